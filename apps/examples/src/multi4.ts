/**
 * multi4 — Process subclass and Queue. Three counters, each a child, post
 * their state on a shared queue once a second; the parent polls the queue
 * every half second without blocking until it has all nine items.
 * Run with `bun apps/examples/src/multi4.ts --backend spawn`.
 */
import { Empty, getStartMethod, Process, type Queue, Queue as makeQueue } from "@multiproc/core";
import { backendFromArgs } from "./cli.ts";

/** A child that counts up three times from `state`, posting `[pid, state]` each time. */
export class Counter extends Process {
  state: number;
  post: Queue<[number, number]>;

  constructor(start: number, queue: Queue<[number, number]>) {
    super();
    this.state = start;
    this.post = queue;
  }

  override async run(): Promise<void> {
    for (let i = 0; i < 3; i++) {
      await Bun.sleep(1000);
      this.state += 1;
      console.log("@", this.pid, this.state);
      this.post.putSync([this.pid!, this.state]);
    }
    console.log("@", this.pid, "-");
  }
}

if (import.meta.main) {
  backendFromArgs();
  console.log(`[backend: ${getStartMethod()}]`);
  console.log("start", process.pid);
  const expected = 9;
  const post = makeQueue<[number, number]>();
  const counters = [0, 100, 1000].map((start) => new Counter(start, post));
  for (const c of counters) c.start();

  let got = 0;
  while (got < expected) {
    await Bun.sleep(500);
    try {
      const data = post.getNowait();
      console.log("posted:", `[${data.join(", ")}]`);
      got += 1;
    } catch (e) {
      if (!(e instanceof Empty)) throw e;
      console.log("no data...");
    }
  }
  // The queue may still hold items posted faster than one per half second.
  for (const c of counters) await c.join();
  console.log("finish", process.pid, counters.at(-1)!.exitCode);
}
