/**
 * multi2 — Pipe. One child sends a list and closes its end; another sends a
 * dict (an object), then prints what the parent sends back: a Set, which
 * arrives as a Set. Run with `bun apps/examples/src/multi2.ts --backend spawn`.
 */
import { inspect } from "node:util";
import { type Connection, getStartMethod, Pipe, Process } from "@multiproc/core";
import { backendFromArgs } from "./cli.ts";

/** Python's repr, as far as these values go: one line, quotes and all. */
export function show(value: unknown): string {
  return inspect(value, { breakLength: Number.POSITIVE_INFINITY });
}

export function sender(pipe: Connection): void {
  pipe.send(["spam", 42, "eggs"]);
  pipe.close();
}

export function talker(pipe: Connection): void {
  pipe.send({ name: "Bob", spam: 42 });
  const reply = pipe.recvSync();
  console.log("talker got:", show(reply));
}

if (import.meta.main) {
  backendFromArgs();
  console.log(`[backend: ${getStartMethod()}]`);
  let [parentEnd, childEnd] = Pipe();
  new Process({ target: sender, args: [childEnd] }).start();
  childEnd.close(); // the child holds its own copy
  console.log("parent got:", show(await parentEnd.recv()));
  parentEnd.close();

  [parentEnd, childEnd] = Pipe();
  const child = new Process({ target: talker, args: [childEnd] });
  child.start();
  childEnd.close();
  console.log("parent got:", show(await parentEnd.recv()));
  parentEnd.send(new Set([..."spam"].map((c) => c + c)));
  await child.join();
  console.log("parent exit");
}
