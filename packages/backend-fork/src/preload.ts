/**
 * Preload of the fork backend: restarts the program once, before it runs,
 * with the JavaScriptCore settings fork children need (see
 * `jsc-settings.ts`). Use it from bunfig.toml:
 *
 *     preload = ["@multiproc/backend-fork/preload"]
 *
 * or as the very first import of the main module.
 */
import { ensureJscSettings } from "./jsc-settings.ts";

ensureJscSettings();
