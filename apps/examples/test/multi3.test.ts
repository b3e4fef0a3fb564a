import { describe, test } from "bun:test";
import { getAllStartMethods } from "@multiproc/core";
import { runExample } from "./_run-example.ts";
import { expectSharedStateStory } from "./_shared-state-story.ts";

describe.each(getAllStartMethods())("multi3 on %s", (backend) => {
  test("shared Value and Array reach every child; globals follow the backend; the end line is exact", () => {
    expectSharedStateStory(runExample("multi3", backend), backend);
  });
});
