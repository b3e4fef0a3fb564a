/**
 * native/fork-child.ts (#23): fork(2) with the child's system-call set-up
 * done in C, compiled by bun:ffi's cc. The child reports what it found into
 * a shared page; the parent checks it.
 */
import { expect, test } from "bun:test";
import { native } from "../src/internal.ts";

/** Words of the report page. */
const Report = { DONE: 0, PID: 1, REAL_PID: 2, CLOSED: 3, KEPT: 4, TERM_DEFAULT: 5, FAILURE: 6, SEED: 7 } as const;

test("nativeForkReady() compiles fork-child.c here; MULTIPROC_FORK_NATIVE=0 turns it off and says so", () => {
  expect(native.nativeForkReady()).toBe(true);
  expect(native.nativeForkUnavailable()).toBeUndefined();
  const r = Bun.spawnSync(
    [
      process.execPath,
      "-e",
      `const { native } = await import(${JSON.stringify(new URL("../src/internal.ts", import.meta.url).pathname)});` +
        "console.log(JSON.stringify([native.nativeForkReady(), native.nativeForkUnavailable()]));",
    ],
    { env: { ...process.env, MULTIPROC_FORK_NATIVE: "0" }, stdout: "pipe", stderr: "pipe", timeout: 20_000 },
  );
  expect(JSON.parse(r.stdout.toString())).toEqual([false, "MULTIPROC_FORK_NATIVE=0"]);
});

function isOpen(fd: number): boolean {
  try {
    native.fileStat(fd);
    return true;
  } catch {
    return false;
  }
}

test("forkWithSetup: the child knows its pid, has closed what it was told to, kept the rest, has SIGTERM's default action and is announced", () => {
  expect(native.nativeForkReady()).toBe(true);
  native.installPidGetter();
  const report = native.createSegment(4096, "fork-child-test");
  const words = new Int32Array(report.buffer);
  const start = native.createSegment(4096, "fork-child-start");
  const startWord = new Int32Array(start.buffer);
  const [closeMe, closeMeToo] = native.makePipe();
  const [keepMe, keepMeToo] = native.makePipe();
  // The parent listens to SIGTERM: a child that kept the runtime's handler would ignore terminate().
  const onTerm = () => {};
  process.on("SIGTERM", onTerm);
  try {
    native.markAllForkable();
    const pid = native.forkWithSetup({
      isolation: native.EMPTY_PLAN,
      close: [closeMe, closeMeToo],
      daemon: false,
      parentPid: native.realPid(),
      announceAt: start.address,
    });
    if (pid === 0) {
      // The child: as little JavaScript as possible, then _exit.
      words[Report.PID] = process.pid;
      words[Report.REAL_PID] = native.realPid();
      words[Report.CLOSED] = isOpen(closeMe) ? 0 : 1;
      words[Report.KEPT] = isOpen(keepMe) ? 1 : 0;
      words[Report.FAILURE] = native.childSetupFailure() === undefined ? 0 : 1;
      words[Report.SEED] = native.childSeed() === 0 ? 0 : 1;
      Atomics.store(words, Report.DONE, 1);
      native.sleepSync(10_000); // until terminate(): ends by SIGTERM's default action
      native.exitNow(3);
    }
    const pidfd = native.pidfdOpen(pid);
    try {
      const deadline = performance.now() + 10_000;
      while (Atomics.load(words, Report.DONE) === 0 && performance.now() < deadline) native.sleepSync(2);
      expect(Atomics.load(words, Report.DONE)).toBe(1);
      process.kill(pid, "SIGTERM");
      expect(native.pollReadable(pidfd, 10_000)).toBe(true);
      expect(native.reapChild(pidfd)).toBe(-15);
    } finally {
      native.closeFd(pidfd);
    }
    expect(words[Report.PID]).toBe(pid);
    expect(words[Report.REAL_PID]).toBe(pid);
    expect(words[Report.CLOSED]).toBe(1);
    expect(words[Report.KEPT]).toBe(1);
    expect(words[Report.FAILURE]).toBe(0);
    expect(words[Report.SEED]).toBe(1);
    expect(startWord[0]).toBe(1);
    expect(process.pid).toBe(native.realPid());
  } finally {
    process.off("SIGTERM", onTerm);
    for (const fd of [closeMe, closeMeToo, keepMe, keepMeToo, report.fd, start.fd]) native.closeQuietly(fd);
  }
});
