/**
 * Ring mappings retired and reused (`native/pages.ts`, #23): an unmapped
 * ring's address range stays reserved with no access, and the next mapping
 * of its size goes there with the same ArrayBuffer, so making Queues and
 * Pools does not make JavaScriptCore count a new buffer's bytes each time
 * (it collected every one or two Pools).
 */
import { expect, test } from "bun:test";
import { heapStats } from "bun:jsc";
import { Queue } from "../src/index.ts";
import { closeFd } from "../src/native/file.ts";
import { memfdWith } from "../src/native/index.ts";
import { mapShared, retire, unmap } from "../src/native/pages.ts";
import { mapsLineAt } from "./fixtures/os-resources.ts";

const SIZE = 3 << 16; // a size no other test maps

/** Whether `address` is reserved with no access, holding no file (a retired range). */
function reserved(address: number): boolean {
  return / ---p [0-9a-f]+ 00:00 0 /.test(`${mapsLineAt(address) ?? ""} `);
}

function fileOf(byte: number): number {
  return memfdWith(new Uint8Array(SIZE).fill(byte), "pages-test");
}

test("a retired mapping's range is kept with no access; the next file of its size is mapped there, with the same buffer, and reads as that file", () => {
  const [one, two, three] = [fileOf(1), fileOf(2), fileOf(3)];
  try {
    const first = mapShared(one);
    expect(new Uint8Array(first.buffer)[SIZE - 1]).toBe(1);
    retire(first);
    expect(reserved(first.address)).toBe(true);
    const second = mapShared(two);
    expect(second.address).toBe(first.address);
    expect(second.buffer).toBe(first.buffer);
    expect(mapsLineAt(second.address)).toContain("pages-test");
    expect(new Uint8Array(second.buffer)[0]).toBe(2);
    expect(new Uint8Array(second.buffer)[SIZE - 1]).toBe(2);
    // None spare: a new range.
    const third = mapShared(three);
    expect(third.address).not.toBe(second.address);
    expect(new Uint8Array(third.buffer)[0]).toBe(3);
    unmap(second);
    unmap(third);
    expect(mapsLineAt(second.address) ?? "").not.toContain("pages-test");
  } finally {
    for (const fd of [one, two, three]) closeFd(fd);
  }
});

test("at most a few ranges are kept, the latest: past them, the oldest is unmapped", () => {
  const fds = Array.from({ length: 12 }, (_, i) => fileOf(i));
  try {
    const maps = fds.map((fd) => mapShared(fd));
    for (const m of maps) retire(m);
    // Compared by address: a deep comparison would read the buffers, which fault now.
    const kept = maps.filter((m) => reserved(m.address)).map((m) => m.address);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(maps.length);
    expect(kept).toEqual(maps.slice(-kept.length).map((m) => m.address));
    for (const m of maps.slice(0, -kept.length)) expect(mapsLineAt(m.address) ?? "").not.toContain("pages-test");
    // Take the kept ranges back, so later tests start with none spare.
    for (const m of kept.map(() => mapShared(fds[0]!))) unmap(m);
  } finally {
    for (const fd of fds) closeFd(fd);
  }
});

test("Queues made and closed one after another reuse one ring's buffer: the heap's count of extra memory does not grow by a ring each", () => {
  Queue().close(); // the first ring's buffer
  const before = heapStats().extraMemorySize;
  for (let i = 0; i < 20; i++) {
    const q = Queue<number>();
    q.putSync(i);
    expect(q.getSync({ timeout: 1000 })).toBe(i);
    q.close();
  }
  // A new 64 MiB buffer each would add 1.25 GiB (a collection would bring it down, but none is
  // due: the heap counts no new bytes).
  expect(heapStats().extraMemorySize - before).toBeLessThan(64 << 20);
});
