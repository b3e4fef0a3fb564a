import { conformance } from "../../core/test/conformance/index.ts";
import "../src/index.ts";

conformance("worker");
