/**
 * The descriptors of a realm (`channel/realm-fds.ts`) and the files layer
 * under them (`native/file.ts`): what a worker's parent closes after
 * terminate(), and the libc calls that replaced node:fs on a child's start.
 */
import { describe, expect, test } from "bun:test";
import {
  closeMirroredFds,
  closeOwnedFd,
  mirrorOwnedFds,
  mirrorOwnedMappings,
  ownFd,
  ownMapping,
  unmapMirrored,
  unmapOwned,
} from "../src/channel/realm-fds.ts";
import { closeFd, fileStat, openFile, readAt, readFileText } from "../src/native/file.ts";
import { createSegment, memfdWith, readWhole, socketPair, threadAlive, threadId } from "../src/native/index.ts";
import { mapsLineAt } from "./fixtures/os-resources.ts";

/** True while `fd` is an open descriptor of this process. */
function isOpen(fd: number): boolean {
  try {
    fileStat(fd);
    return true;
  } catch {
    return false;
  }
}

describe("native/file", () => {
  test("memfdWith/readWhole round-trip bytes through positional writes and reads", () => {
    const bytes = new Uint8Array(10_000).map((_, i) => i % 251);
    const fd = memfdWith(bytes);
    expect(fileStat(fd).size).toBe(bytes.length);
    expect(readWhole(fd)).toEqual(bytes);
    const part = new Uint8Array(5);
    expect(readAt(fd, part, 9_998)).toBe(2);
    expect([...part.subarray(0, 2)]).toEqual([9_998 % 251, 9_999 % 251]);
    closeFd(fd);
    expect(isOpen(fd)).toBe(false);
  });

  test("fileStat gives one inode for two descriptors of one file; openFile fails on a missing path", () => {
    const fd = memfdWith(new Uint8Array([1]));
    const again = openFile(`/proc/self/fd/${fd}`, "read-write");
    expect(fileStat(again).ino).toBe(fileStat(fd).ino);
    closeFd(again);
    closeFd(fd);
    expect(() => openFile("/proc/self/no-such-file", "read")).toThrow("errno 2");
  });

  test("readFileText reads a /proc file (size 0) to its end; threadAlive reads thread states", () => {
    expect(readFileText("/proc/self/status")).toContain(`\nPid:\t${process.pid}\n`);
    expect(threadAlive(threadId())).toBe(true);
    expect(threadAlive(0x3fff_fff0)).toBe(false);
  });
});

describe("realm-fds mirror", () => {
  test("owned descriptors are listed in the words; a closed one leaves them; closeMirroredFds closes the rest", () => {
    const words = new Int32Array(new SharedArrayBuffer(4 * 6));
    const SLOTS = 4;
    const listed = () => [...words.subarray(2, 2 + SLOTS)].filter((w) => w !== 0).map((w) => w - 1);
    const [a, b] = socketPair("stream");
    ownFd(a);
    mirrorOwnedFds(words, 2, SLOTS); // descriptors owned before the mirror are listed too
    ownFd(b);
    expect(listed().sort()).toEqual([a, b].sort());
    closeOwnedFd(a);
    expect(listed()).toEqual([b]);
    // Past the last slot a descriptor is owned but not listed.
    const more = [socketPair("stream"), socketPair("stream")].flat();
    for (const fd of more) ownFd(fd);
    expect(listed()).toHaveLength(SLOTS);
    expect(words[0]).toBe(0);
    expect(words[1]).toBe(0);
    closeMirroredFds(words, 2, SLOTS);
    expect(listed()).toEqual([]);
    expect(isOpen(b)).toBe(false);
    expect(more.filter(isOpen)).toHaveLength(1);
    // Nothing opened a descriptor since, so closing the listed ones again only gets EBADF.
    for (const fd of [b, ...more]) closeOwnedFd(fd);
    mirrorOwnedFds(new Int32Array(0), 0, 0); // no slots: later tests in this process list nothing
  });

  test("owned ring mappings are listed in the words; unmapMirrored unmaps what is still listed", () => {
    const words = new Int32Array(new SharedArrayBuffer(4 * (1 + 4 * 3)));
    // The segment is mapped there (an unmapped ring's range may stay reserved with no access, see pages.ts `retire`).
    const mapped = (address: number) => (mapsLineAt(address) ?? "").includes("realm-fds-test");
    const [a, b] = [createSegment(1 << 16, "realm-fds-test"), createSegment(1 << 20, "realm-fds-test")];
    ownMapping(a);
    mirrorOwnedMappings(words, 1, 3); // mappings made before the mirror are listed too
    ownMapping(b);
    expect(words.filter((w) => w !== 0).length).toBeGreaterThanOrEqual(3);
    unmapOwned(a); // unmapped by its realm: no longer listed
    expect(mapped(a.address)).toBe(false);
    expect(mapped(b.address)).toBe(true);
    unmapMirrored(words, 1, 3);
    expect(mapped(b.address)).toBe(false);
    expect([...words]).toEqual(new Array(words.length).fill(0));
    for (const s of [a, b]) closeFd(s.fd);
    mirrorOwnedMappings(new Int32Array(0), 0, 0); // no slots: later tests in this process list nothing
  });
});
