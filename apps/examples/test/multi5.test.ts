import { describe, test } from "bun:test";
import { getAllStartMethods } from "@multiproc/core";
import { runExample } from "./_run-example.ts";
import { expectSharedStateStory } from "./_shared-state-story.ts";

describe.each(getAllStartMethods())("multi5 on %s", (backend) => {
  test("a manager dict and Lock reach every child; globals follow the backend; the end line is exact", () => {
    expectSharedStateStory(runExample("multi5", backend), backend);
  });
});
