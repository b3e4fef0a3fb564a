/**
 * Unix socket pairs for connections and descriptor passing: send and receive
 * without ever blocking in the kernel (MSG_DONTWAIT per call, so the flags of
 * a descriptor shared with other processes are never changed), descriptors
 * attached as SCM_RIGHTS, and poll(2) for readiness.
 */
import { ptr } from "bun:ffi";
import { Errno, errno, fail, libc, SYS } from "./libc.ts";

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0x80000;
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SCM_RIGHTS = 1;
const MSG_PEEK = 0x2;
const MSG_CTRUNC = 0x8;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const MSG_CMSG_CLOEXEC = 0x40000000;
const F_DUPFD_CLOEXEC = 1030;
const SIOCOUTQ = 0x5411;
const SIOCINQ = 0x541b;

/** Most descriptors one message may carry (the kernel's SCM_MAX_FD). */
export const MAX_FDS = 253;

// struct msghdr (56 bytes on 64-bit Linux), as 64-bit words:
// 0 msg_name, 1 msg_namelen, 2 msg_iov, 3 msg_iovlen, 4 msg_control, 5 msg_controllen, 6 msg_flags.
const MSG_IOV = 2;
const MSG_IOVLEN = 3;
const MSG_CONTROL = 4;
const MSG_CONTROLLEN = 5;
const MSG_FLAGS = 6;
/** struct cmsghdr: cmsg_len (8 bytes), cmsg_level (4), cmsg_type (4), then the data. */
const CMSG_HEADER = 16;

// The message header and its parts live in fixed arrays whose addresses are
// taken once: pointers are then written as two 32-bit halves, since BigInt
// conversions made a recvmsg cost 1.5 µs instead of 0.35 µs. Each array has an
// ArrayBuffer of its own: a small typed array created without one is stored
// inline by JSC and moves when it tiers up (measured: a cached ptr() of a
// `new Uint32Array(4)` went stale after ~600 calls), which would make the
// kernel read old contents.
const msghdr = new Uint32Array(new ArrayBuffer(14 * 4));
const iov = new Uint32Array(new ArrayBuffer(8 * 4));
const control = new Uint8Array(new ArrayBuffer(CMSG_HEADER + 4 * MAX_FDS + 4));
const controlView = new DataView(control.buffer);
const pair = new Int32Array(new ArrayBuffer(8));
const intOption = new Int32Array(new ArrayBuffer(4));
const optionLength = new Uint32Array(new ArrayBuffer(4));
const iovAddress = ptr(iov);
const controlAddress = ptr(control);
// A second header for receiving, set up once: per call only the buffer, its
// length and the control length change.
const recvHeader = new Uint32Array(new ArrayBuffer(14 * 4));
const recvIov = new Uint32Array(new ArrayBuffer(4 * 4));
put64(recvHeader, MSG_IOV, ptr(recvIov));
put64(recvHeader, MSG_IOVLEN, 1);
put64(recvHeader, MSG_CONTROL, controlAddress);

/** Stream socket `fd`'s send buffer (SO_SNDBUF, in the kernel's accounting, which counts some overhead per packet). */
export function sendBufferSize(fd: number): number {
  optionLength[0] = 4;
  if (libc.getsockopt(fd, SOL_SOCKET, SO_SNDBUF, intOption, optionLength) !== 0) return 0;
  return intOption[0]!;
}

/** Bytes of socket `fd`'s send buffer in use (SIOCOUTQ: for a unix socket, what the peer has not read yet). */
export function sendBufferUsed(fd: number): number {
  if (libc.ioctl(fd, SIOCOUTQ, intOption) !== 0) return 0;
  return intOption[0]!;
}

/**
 * Bytes queued and unread on stream socket `fd` (SIOCINQ), counted across
 * every packet, also those a peek stops before (one that carries descriptors).
 */
export function receiveQueued(fd: number): number {
  if (libc.ioctl(fd, SIOCINQ, intOption) !== 0) return 0;
  return intOption[0]!;
}

/** Writes a pointer or size into 64-bit word `word` of `words`. */
function put64(words: Uint32Array, word: number, value: number): void {
  words[word * 2] = value >>> 0;
  words[word * 2 + 1] = Math.floor(value / 0x1_0000_0000);
}

function setMessage(parts: number, controlLength: number): void {
  msghdr.fill(0);
  put64(msghdr, MSG_IOV, iovAddress);
  put64(msghdr, MSG_IOVLEN, parts);
  if (controlLength > 0) {
    put64(msghdr, MSG_CONTROL, controlAddress);
    put64(msghdr, MSG_CONTROLLEN, controlLength);
  }
}

/** A connected pair of unix sockets, close-on-exec. Stream sockets keep byte order; datagram sockets keep message bounds. */
export function socketPair(type: "stream" | "dgram"): [number, number] {
  const kind = (type === "stream" ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC;
  if (libc.socketpair(AF_UNIX, kind, 0, pair) !== 0) fail("socketpair");
  return [pair[0]!, pair[1]!];
}

/**
 * Sets the kernel's send and receive buffers of a socket (the kernel caps
 * them at net.core.wmem_max / rmem_max and doubles the value for overhead).
 */
export function setSocketBuffers(fd: number, bytes: number): void {
  intOption[0] = bytes;
  libc.setsockopt(fd, SOL_SOCKET, SO_SNDBUF, intOption, 4);
  libc.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, intOption, 4);
}

/**
 * Sends `head` then `body` (either may be empty) as one message, with `fds`
 * attached, never blocking. Returns the number of bytes the kernel took
 * (possibly fewer than offered on a stream socket; the descriptors go with the
 * first byte), or -1 when the socket buffer is full.
 * @throws BackendError with errno EPIPE when the other end is closed
 */
export function sendParts(fd: number, head: Uint8Array, body: Uint8Array | undefined, fds: readonly number[]): number {
  let parts = 0;
  for (const part of [head, body]) {
    if (part === undefined || part.byteLength === 0) continue;
    put64(iov, parts * 2, ptr(part));
    put64(iov, parts * 2 + 1, part.byteLength);
    parts += 1;
  }
  let controlLength = 0;
  if (fds.length > 0) {
    if (fds.length > MAX_FDS) throw new RangeError(`A message may carry at most ${MAX_FDS} descriptors`);
    const dataBytes = 4 * fds.length;
    controlView.setBigUint64(0, BigInt(CMSG_HEADER + dataBytes), true);
    controlView.setInt32(8, SOL_SOCKET, true);
    controlView.setInt32(12, SCM_RIGHTS, true);
    for (let i = 0; i < fds.length; i++) controlView.setInt32(CMSG_HEADER + 4 * i, fds[i]!, true);
    controlLength = CMSG_HEADER + ((dataBytes + 7) & ~7);
  }
  setMessage(parts, controlLength);
  for (;;) {
    const n = Number(libc.sendmsg(fd, msghdr, MSG_DONTWAIT | MSG_NOSIGNAL));
    if (n >= 0) return n;
    const e = errno();
    if (e === Errno.EINTR) continue;
    if (e === Errno.EAGAIN) return -1;
    fail("sendmsg", e);
  }
}

/**
 * Sends `length` bytes of `data` from `offset` without descriptors, never
 * blocking. Returns the bytes taken, or -1 when the socket buffer is full.
 * @throws BackendError with errno EPIPE when the other end is closed
 */
export function sendSome(fd: number, data: Uint8Array, offset: number, length: number): number {
  for (;;) {
    const n = Number(libc.send(fd, ptr(data) + offset, length, MSG_DONTWAIT | MSG_NOSIGNAL));
    if (n >= 0) return n;
    const e = errno();
    if (e === Errno.EINTR) continue;
    if (e === Errno.EAGAIN) return -1;
    fail("send", e);
  }
}

/**
 * Receives up to `length` bytes into `into` at `offset`, never blocking.
 * Descriptors that came with the data are appended to `fds` (they are
 * close-on-exec and now owned by the caller). Returns the byte count, 0 at end
 * of stream (the other end closed), or -1 when nothing is there yet.
 * With `peek`, the data stays queued and no descriptor is taken.
 */
export function receiveSome(
  fd: number,
  into: Uint8Array,
  offset: number,
  length: number,
  fds: number[] | undefined,
  peek = false,
): number {
  if (fds === undefined || peek) {
    for (;;) {
      const n = Number(libc.recv(fd, ptr(into) + offset, length, MSG_DONTWAIT | (peek ? MSG_PEEK : 0)));
      if (n >= 0) return n;
      const e = errno();
      if (e === Errno.EINTR) continue;
      if (e === Errno.EAGAIN) return -1;
      if (e === Errno.ECONNRESET) return 0;
      fail("recv", e);
    }
  }
  put64(recvIov, 0, ptr(into) + offset);
  put64(recvIov, 1, length);
  let n: number;
  for (;;) {
    put64(recvHeader, MSG_CONTROLLEN, control.byteLength);
    recvHeader[MSG_FLAGS * 2] = 0;
    n = Number(libc.recvmsg(fd, recvHeader, MSG_DONTWAIT | MSG_CMSG_CLOEXEC));
    if (n >= 0) break;
    const e = errno();
    if (e === Errno.EINTR) continue;
    if (e === Errno.EAGAIN) return -1;
    if (e === Errno.ECONNRESET) return 0;
    fail("recvmsg", e);
  }
  const controlLength = recvHeader[MSG_CONTROLLEN * 2]!;
  if (controlLength > 0) collectFds(controlLength, fds);
  if (recvHeader[MSG_FLAGS * 2]! & MSG_CTRUNC) {
    // Cannot happen with a buffer sized for MAX_FDS; say so rather than lose descriptors silently.
    throw new RangeError("A message carried more descriptors than the receive buffer holds");
  }
  return n;
}

/** Appends the descriptors of every SCM_RIGHTS header in the received control data. */
function collectFds(controlLength: number, fds: number[]): void {
  let at = 0;
  while (at + CMSG_HEADER <= controlLength) {
    const len = Number(controlView.getBigUint64(at, true));
    if (len < CMSG_HEADER) break;
    if (controlView.getInt32(at + 8, true) === SOL_SOCKET && controlView.getInt32(at + 12, true) === SCM_RIGHTS) {
      for (let i = at + CMSG_HEADER; i + 4 <= at + len; i += 4) fds.push(controlView.getInt32(i, true));
    }
    at += (len + 7) & ~7;
  }
}

/** A new close-on-exec descriptor for the same open file as `fd`. */
export function dupFd(fd: number): number {
  const copy = libc.fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) fail(`fcntl(F_DUPFD_CLOEXEC, ${fd})`);
  return copy;
}

/**
 * A copy, in this process, of descriptor `fd` of the process that `pidfd`
 * refers to (Linux 5.6+: pidfd_getfd; needs ptrace rights over that process).
 */
export function pidfdGetfd(pidfd: number, fd: number): number {
  const copy = Number(libc.syscall(SYS.pidfd_getfd, pidfd, fd, 0, 0, 0, 0));
  if (copy < 0) fail(`pidfd_getfd(${fd})`);
  return copy;
}
