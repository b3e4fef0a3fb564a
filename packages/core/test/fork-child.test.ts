/**
 * native/fork-child.ts (#23): fork(2) with the child's system-call set-up
 * done in C, compiled by bun:ffi's cc. The child reports what it found into
 * a shared page; the parent checks it.
 */
import { dlopen, FFIType, ptr } from "bun:ffi";
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
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

test("the isolation plan made in C (mp_plan_isolation) equals epoll.ts planIsolation(): eventfd, timerfd (with its clock), a pipe, flags", () => {
  expect(native.nativeForkReady()).toBe(true);
  // A second event loop of our own, as a Worker's would be: an eventfd, a
  // CLOCK_MONOTONIC timerfd and a pipe, with distinct events and data words.
  const { symbols: c } = dlopen("libc.so.6", {
    epoll_create1: { args: [FFIType.i32], returns: FFIType.i32 },
    eventfd: { args: [FFIType.u32, FFIType.i32], returns: FFIType.i32 },
    timerfd_create: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    epoll_ctl: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  });
  const O_CLOEXEC = 0o2000000;
  const O_NONBLOCK = 0o4000;
  const epfd = c.epoll_create1(O_CLOEXEC);
  const efd = c.eventfd(0, O_NONBLOCK);
  const tfd = c.timerfd_create(1, O_NONBLOCK | O_CLOEXEC);
  const [pipeRead, pipeWrite] = native.makePipe();
  const opened = [epfd, efd, tfd, pipeRead, pipeWrite];
  try {
    expect(Math.min(...opened)).toBeGreaterThan(2);
    // struct epoll_event: u32 events, u64 data (packed: 12 bytes on x86_64).
    const dataAt = process.arch === "x64" ? 4 : 8;
    const add = (fd: number, events: number, data: bigint) => {
      const ev = new Uint8Array(16);
      const view = new DataView(ev.buffer);
      view.setUint32(0, events, true);
      view.setBigUint64(dataAt, data, true);
      expect(c.epoll_ctl(epfd, 1, fd, ptr(ev))).toBe(0);
    };
    add(efd, 0x1, 0x1234_5678_9abcn);
    add(tfd, 0x80000001, 0xffff_ffff_0000_0001n);
    add(pipeRead, 0x5, 7n);
    // fdinfo shows the events with EPOLLERR | EPOLLHUP, which epoll always adds.
    const always = 0x18;
    const fromC = native.nativeIsolationPlan();
    const fromJs = native.planIsolation();
    expect(fromC).toEqual(fromJs);
    const ours = fromC!.loops.find((l) => l.fd === epfd);
    expect(ours?.flags).toBe(O_CLOEXEC | 2 /* O_RDWR */);
    const byFd = new Map(ours!.regs.map((r) => [r.fd, r]));
    expect(byFd.get(efd)).toMatchObject({
      action: "eventfd",
      events: 0x1 | always,
      data: 0x1234_5678_9abcn,
      flags: 0o4002,
    });
    expect(byFd.get(tfd)).toMatchObject({
      action: "timerfd",
      events: (0x80000001 | always) >>> 0,
      data: 0xffff_ffff_0000_0001n,
      clock: 1,
    });
    expect(byFd.get(pipeRead)).toMatchObject({ action: "dead", events: 0x5 | always, data: 7n });
  } finally {
    for (const fd of opened) native.closeQuietly(fd);
  }
});

test("the Worker threads counted in C (mp_count_threads_named) are those /proc/self/task names, the skipped one left out", async () => {
  expect(native.nativeForkReady()).toBe(true);
  const name = new TextEncoder().encode("Worker\n\0");
  const worker = new Worker(URL.createObjectURL(new Blob(["postMessage(0); setInterval(() => {}, 1000);"])));
  try {
    await new Promise((resolve) => worker.addEventListener("message", resolve, { once: true }));
    const namedNow = () =>
      readdirSync("/proc/self/task").filter((tid) => {
        try {
          return readFileSync(`/proc/self/task/${tid}/comm`, "latin1") === "Worker\n";
        } catch {
          return false;
        }
      });
    // A thread the Worker starts (the collector's helpers) carries its name until it
    // names itself, a few ms later: compare a count with the names read just before
    // and just after it, once both readings and the count agree (a helper can be
    // named so in between and rename itself before the second reading).
    let named: string[] = [];
    let counted: number | undefined = -1;
    let countedSkipping: number | undefined = -1;
    for (let i = 0; i < 100; i++) {
      named = namedNow();
      counted = native.countThreadsNamed(name, 0);
      countedSkipping = named.length > 0 ? native.countThreadsNamed(name, Number(named[0])) : -1;
      if (namedNow().join() === named.join() && counted === named.length) break;
      await Bun.sleep(20);
    }
    expect(named.length).toBeGreaterThan(0);
    expect(counted).toBe(named.length);
    expect(countedSkipping).toBe(named.length - 1);
    expect(native.countThreadsNamed(new TextEncoder().encode("no such thread\n\0"), 0)).toBe(0);
  } finally {
    worker.terminate();
  }
});

test("the Worker threads counted in C: a Worker started after the other threads' names were settled (cached) is counted at once, and no more once it ended", async () => {
  expect(native.nativeForkReady()).toBe(true);
  const name = new TextEncoder().encode("Worker\n\0");
  native.countThreadsNamed(name, 0);
  // Names are read again until a thread was seen a second ago; from then on the count trusts them.
  await Bun.sleep(1100);
  const before = native.countThreadsNamed(name, 0)!;
  const worker = new Worker(URL.createObjectURL(new Blob(["postMessage(0); setInterval(() => {}, 1000);"])));
  try {
    await new Promise((resolve) => worker.addEventListener("message", resolve, { once: true }));
    expect(native.countThreadsNamed(name, 0)).toBeGreaterThan(before);
  } finally {
    worker.terminate();
  }
  const deadline = performance.now() + 10_000;
  while (native.countThreadsNamed(name, 0) !== before && performance.now() < deadline) await Bun.sleep(10);
  expect(native.countThreadsNamed(name, 0)).toBe(before);
});
