import { describe, expect, test } from "bun:test";
import { getAllStartMethods } from "@multiproc/core";
import { runExample } from "./_run-example.ts";

describe.each(getAllStartMethods())("multi2 on %s", (backend) => {
  test("the parent gets the list and the object; the talker gets the Set back as a Set", () => {
    const lines = runExample("multi2", backend);
    expect(lines).toEqual([
      `[backend: ${backend}]`,
      "parent got: [ 'spam', 42, 'eggs' ]",
      "parent got: { name: 'Bob', spam: 42 }",
      "talker got: Set(4) { 'ss', 'pp', 'aa', 'mm' }",
      "parent exit",
    ]);
  });
});
