/**
 * Listening and connecting stream sockets for `Listener` and `Client`
 * (Python: `multiprocessing.connection`): unix sockets by path (a path
 * starting with "\0" is a Linux abstract socket), TCP over IPv4 and IPv6.
 * Every socket is close-on-exec and non-blocking: accept and connect never
 * sleep in the kernel, the callers wait with poll(2) and their own timeouts.
 */
import { type Pointer, read } from "bun:ffi";
import { Errno, errno, fail, libc } from "./libc.ts";

const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0x800;
const SOCK_CLOEXEC = 0x80000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_ERROR = 4;
const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;
/** sun_path's size: a path of up to 107 bytes and its NUL. */
const UNIX_PATH_MAX = 108;

/** A socket address: a unix socket path, or a TCP host (an IP address) and port. */
export type SocketAddress = { unix: string } | { host: string; port: number };

// Big enough for sockaddr_un (110 bytes) and sockaddr_in6 (28). An explicit
// ArrayBuffer: JSC may move a small inline typed array once code is hot.
const sockaddr = new Uint8Array(new ArrayBuffer(128));
const sockaddrView = new DataView(sockaddr.buffer);
const length = new Uint32Array(new ArrayBuffer(4));
const intOption = new Int32Array(new ArrayBuffer(4));

/** Writes `address` into `sockaddr`; returns its length in bytes. @throws RangeError for a bad address */
function encode(address: SocketAddress): number {
  sockaddr.fill(0);
  if ("unix" in address) {
    const path = new TextEncoder().encode(address.unix);
    if (path.byteLength === 0 || path.byteLength >= UNIX_PATH_MAX) {
      throw new RangeError(
        `A unix socket path must be 1 to ${UNIX_PATH_MAX - 1} bytes, got ${path.byteLength} (${JSON.stringify(address.unix)})`,
      );
    }
    sockaddrView.setUint16(0, AF_UNIX, true);
    sockaddr.set(path, 2);
    // An abstract name is exactly its bytes; a path ends at its NUL.
    return 2 + path.byteLength + (path[0] === 0 ? 0 : 1);
  }
  const { host, port } = address;
  const v4 = parseIPv4(host);
  if (v4 !== undefined) {
    sockaddrView.setUint16(0, AF_INET, true);
    sockaddrView.setUint16(2, port, false);
    sockaddr.set(v4, 4);
    return 16;
  }
  const v6 = parseIPv6(host);
  if (v6 === undefined) throw new RangeError(`Not an IP address: ${JSON.stringify(host)}`);
  sockaddrView.setUint16(0, AF_INET6, true);
  sockaddrView.setUint16(2, port, false);
  sockaddr.set(v6, 8);
  return 28;
}

/** Reads the address `sockaddr` holds (`bytes` of it). */
function decode(bytes: number): SocketAddress {
  const family = sockaddrView.getUint16(0, true);
  if (family === AF_UNIX) {
    const raw = sockaddr.subarray(2, bytes);
    if (raw.byteLength === 0) return { unix: "" }; // an unnamed socket: the usual client
    const end = raw[0] === 0 ? raw.byteLength : raw.indexOf(0) < 0 ? raw.byteLength : raw.indexOf(0);
    return { unix: new TextDecoder().decode(raw.subarray(0, end)) };
  }
  const port = sockaddrView.getUint16(2, false);
  if (family === AF_INET) return { host: [...sockaddr.subarray(4, 8)].join("."), port };
  const words: string[] = [];
  for (let i = 0; i < 8; i++) words.push(sockaddrView.getUint16(8 + 2 * i, false).toString(16));
  return { host: compressIPv6(words), port };
}

function familyOf(address: SocketAddress): number {
  if ("unix" in address) return AF_UNIX;
  return parseIPv4(address.host) !== undefined ? AF_INET : AF_INET6;
}

function newSocket(family: number): number {
  const fd = libc.socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  return fd;
}

/** Sets TCP_NODELAY: a Connection writes whole messages, Nagle's delay only adds latency. */
function noDelay(fd: number, address: SocketAddress): void {
  if ("unix" in address) return;
  intOption[0] = 1;
  libc.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, intOption, 4);
}

/**
 * A listening socket bound to `address` (a TCP port 0 picks a free port:
 * read it back with `localAddress`). TCP sockets reuse the address, as Python's do.
 * @throws BackendError with errno EADDRINUSE when the address is taken
 */
export function listenOn(address: SocketAddress, backlog: number): number {
  const fd = newSocket(familyOf(address));
  try {
    if (!("unix" in address)) {
      intOption[0] = 1;
      libc.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, intOption, 4);
    }
    const n = encode(address);
    if (libc.bind(fd, sockaddr, n) !== 0) fail("bind");
    if (libc.listen(fd, backlog) !== 0) fail("listen");
    return fd;
  } catch (err) {
    libc.close(fd);
    throw err;
  }
}

/** Takes one pending connection, or undefined when none is waiting. Returns its descriptor and the peer's address. */
export function acceptOne(listenFd: number): { fd: number; peer: SocketAddress } | undefined {
  length[0] = sockaddr.byteLength;
  const fd = libc.accept4(listenFd, sockaddr, length, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    const e = errno();
    // A peer that left before we took it (ECONNABORTED) is no connection either.
    if (e === Errno.EAGAIN || e === Errno.EINTR || e === 103) return undefined;
    fail("accept4", e);
  }
  const peer = decode(length[0]!);
  if (!("unix" in peer)) {
    intOption[0] = 1;
    libc.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, intOption, 4);
  }
  return { fd, peer };
}

/**
 * Starts connecting to `address`. Returns the socket, connected or on its
 * way (wait until it is writable, then call `connectResult`), or undefined
 * when a unix listener's backlog is full (try again).
 * @throws BackendError with errno ECONNREFUSED or ENOENT when nobody listens there
 */
export function connectTo(address: SocketAddress): number | undefined {
  const fd = newSocket(familyOf(address));
  try {
    const n = encode(address);
    if (libc.connect(fd, sockaddr, n) !== 0) {
      const e = errno();
      // A unix listener whose backlog is full: no connection was made, try again.
      if (e === Errno.EAGAIN && "unix" in address) {
        libc.close(fd);
        return undefined;
      }
      if (e !== Errno.EINPROGRESS && e !== Errno.EINTR) fail("connect", e);
    }
    noDelay(fd, address);
    return fd;
  } catch (err) {
    libc.close(fd);
    throw err;
  }
}

/** The error of a finished non-blocking connect: 0 when connected, else its errno. */
export function connectResult(fd: number): number {
  intOption[0] = 0;
  length[0] = 4;
  if (libc.getsockopt(fd, SOL_SOCKET, SO_ERROR, intOption, length) !== 0) fail("getsockopt(SO_ERROR)");
  return intOption[0]!;
}

/** The address a socket is bound to (a TCP port 0 becomes the port chosen). */
export function localAddress(fd: number): SocketAddress {
  length[0] = sockaddr.byteLength;
  if (libc.getsockname(fd, sockaddr, length) !== 0) fail("getsockname");
  return decode(length[0]!);
}

/** Whether `fd` is a TCP socket (not a unix one): descriptors cannot travel over it. */
export function isInetSocket(fd: number): boolean {
  length[0] = sockaddr.byteLength;
  if (libc.getsockname(fd, sockaddr, length) !== 0) return false;
  const family = sockaddrView.getUint16(0, true);
  return family === AF_INET || family === AF_INET6;
}

/**
 * The IP addresses of `host` (getaddrinfo(3): /etc/hosts, then DNS), IPv4
 * first. An IP address is returned as it is.
 * @throws Error naming the host when it cannot be resolved
 */
export function resolveHost(host: string): string[] {
  if (parseIPv4(host) !== undefined || parseIPv6(host) !== undefined) return [host];
  // struct addrinfo hints: ai_flags, ai_family, ai_socktype, ai_protocol, then pointers.
  const hints = new Int32Array(new ArrayBuffer(48));
  hints[2] = SOCK_STREAM;
  const out = new BigUint64Array(new ArrayBuffer(8));
  const r = libc.getaddrinfo(Buffer.from(`${host}\0`), null, hints, out);
  if (r !== 0) throw new Error(`Cannot resolve host ${JSON.stringify(host)} (getaddrinfo error ${r})`);
  const found: string[] = [];
  const first = Number(out[0]) as Pointer;
  try {
    for (let at = first; at !== 0; at = read.ptr(at, 40) as Pointer) {
      const family = read.i32(at, 4);
      const addr = read.ptr(at, 24) as Pointer;
      if (family === AF_INET) found.push([0, 1, 2, 3].map((i) => read.u8(addr, 4 + i)).join("."));
      else if (family === AF_INET6) {
        const words: string[] = [];
        for (let i = 0; i < 8; i++)
          words.push(((read.u8(addr, 8 + 2 * i) << 8) | read.u8(addr, 9 + 2 * i)).toString(16));
        found.push(compressIPv6(words));
      }
    }
  } finally {
    libc.freeaddrinfo(first);
  }
  const unique = [...new Set(found)];
  return [...unique.filter((a) => !a.includes(":")), ...unique.filter((a) => a.includes(":"))];
}

function parseIPv4(host: string): Uint8Array | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (m === null) return undefined;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? Uint8Array.from(parts) : undefined;
}

function parseIPv6(host: string): Uint8Array | undefined {
  const text = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (!/^[0-9a-fA-F:.]+$/.test(text) || !text.includes(":")) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (part: string): number[] | undefined => {
    if (part === "") return [];
    const out: number[] = [];
    for (const g of part.split(":")) {
      if (g.includes(".")) {
        const v4 = parseIPv4(g);
        if (v4 === undefined) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) out.push(Number.parseInt(g, 16));
      else return undefined;
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const words = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  words.forEach((w, i) => {
    bytes[2 * i] = w >> 8;
    bytes[2 * i + 1] = w & 0xff;
  });
  return bytes;
}

/** RFC 5952 text of eight hex words: the longest run of zeros becomes "::". */
function compressIPv6(words: string[]): string {
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === "0") j++;
    if (j - i > bestLength) {
      best = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (best < 0) return words.join(":");
  return `${words.slice(0, best).join(":")}::${words.slice(best + bestLength).join(":")}`;
}

/** For tests: the address bytes `encode` writes (family first). @internal */
export function encodedAddress(address: SocketAddress): Uint8Array {
  return sockaddr.slice(0, encode(address));
}
