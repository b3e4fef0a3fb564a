/**
 * Writing a whole buffer to a descriptor synchronously, also when it is a
 * non-blocking pipe or socket (the runtime sets O_NONBLOCK on piped standard
 * streams): on EAGAIN it waits with poll(POLLOUT) instead of failing.
 */
import { ptr } from "bun:ffi";
import { Errno, errno, fail, libc } from "./libc.ts";

const POLLOUT = 0x4;

/**
 * Writes all of `bytes` to `fd`; throws on an error other than EINTR/EAGAIN
 * (EPIPE: the reader is gone), or (errno ETIMEDOUT) when a full pipe or
 * socket took no byte for `timeout` ms (default: no limit).
 */
export function writeAllSync(fd: number, bytes: Uint8Array, timeout = -1): void {
  let done = 0;
  const deadline = timeout < 0 ? Number.POSITIVE_INFINITY : performance.now() + timeout;
  const pfd = new Int32Array([fd, POLLOUT, 0]);
  while (done < bytes.length) {
    const n = Number(libc.write(fd, ptr(bytes, done), bytes.length - done));
    if (n > 0) {
      done += n;
      continue;
    }
    const e = errno();
    if (e === Errno.EINTR) continue;
    if (e === Errno.EAGAIN) {
      const left = deadline - performance.now();
      if (left <= 0) fail(`write(${fd}): nothing read for ${timeout} ms`, Errno.ETIMEDOUT);
      libc.poll(ptr(pfd), 1, left === Number.POSITIVE_INFINITY ? -1 : Math.ceil(left));
      continue;
    }
    fail(`write(${fd})`, e);
  }
}
