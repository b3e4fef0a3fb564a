/**
 * The auth-key handshake of `Listener` and `Client` (Python 3.12's
 * `deliver_challenge` / `answer_challenge` with SHA-256): each side sends a
 * random challenge, the other answers with HMAC-SHA256(authkey, challenge),
 * and the challenger says welcome or failure. Only raw bytes with a length
 * limit are read until both sides have proved the key: nothing from an
 * unauthenticated peer is decoded.
 */
import { timingSafeEqual } from "node:crypto";
import { AuthenticationError, EOFError } from "../errors.ts";
import type { Connection } from "./connection.ts";

const CHALLENGE = new TextEncoder().encode("#CHALLENGE#{sha256}");
const WELCOME = new TextEncoder().encode("#WELCOME#");
const FAILURE = new TextEncoder().encode("#FAILURE#");
/** Random bytes of a challenge (Python: 40). */
const NONCE_BYTES = 40;
/** Longest handshake message read (Python: 256). */
const MAX_LENGTH = 256;
/** How long the whole handshake may take by default (ms): a silent peer must not hold the other side for ever. */
export const HANDSHAKE_TIMEOUT_MS = 20_000;

/** An auth key as bytes. @throws TypeError for anything but a string or bytes */
export function authkeyBytes(key: string | Uint8Array, what: string): Uint8Array {
  if (typeof key === "string") return new TextEncoder().encode(key);
  if (key instanceof Uint8Array) return key;
  throw new TypeError(`${what} authkey must be a string or a Uint8Array, got ${typeof key}`);
}

function digest(key: Uint8Array, message: Uint8Array): Uint8Array {
  const hmac = new Bun.CryptoHasher("sha256", key);
  hmac.update(message);
  return hmac.digest();
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.byteLength >= prefix.byteLength && prefix.every((b, i) => bytes[i] === b);
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && timingSafeEqual(a, b);
}

/** Reads one handshake message before `deadline` (performance.now() ms). */
function receive(conn: Connection, step: string, deadline: number): Uint8Array {
  if (!conn.poll(Math.max(0, deadline - performance.now()))) throw silent(step);
  try {
    return conn.recvBytesSync(MAX_LENGTH);
  } catch (err) {
    // The reader names a bad frame (a length past the limit, garbage) or a cut one; a clean end is just a close.
    if (err instanceof EOFError) {
      throw new AuthenticationError(
        err.message.startsWith("The other end")
          ? `The peer closed the connection during the ${step}`
          : `The peer sent a broken frame instead of the ${step}: ${err.message}`,
        { cause: err },
      );
    }
    if (err instanceof RangeError) {
      throw new AuthenticationError(`The peer sent an oversized ${step} message: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

async function receiveAsync(conn: Connection, step: string, deadline: number): Promise<Uint8Array> {
  if (!(await conn.pollAsync(Math.max(0, deadline - performance.now())))) throw silent(step);
  return receive(conn, step, deadline);
}

function silent(step: string): AuthenticationError {
  return new AuthenticationError(
    `The peer did not send the auth key ${step} in time: it has no auth key, or is not a multiproc peer`,
  );
}

/** The challenger's side, as steps: send a challenge, check the answer, say welcome or failure. */
function* challenge(conn: Connection, key: Uint8Array): Generator<string, void, Uint8Array> {
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  const message = new Uint8Array(CHALLENGE.byteLength + NONCE_BYTES);
  message.set(CHALLENGE);
  message.set(nonce, CHALLENGE.byteLength);
  conn.sendBytes(message);
  const answer = yield "challenge's answer";
  const expected = digest(key, message.subarray("#CHALLENGE#".length));
  if (!same(answer, expected)) {
    try {
      conn.sendBytes(FAILURE);
    } catch {
      // The peer is gone already: the failure is ours to report anyway.
    }
    throw new AuthenticationError("The peer's answer to the auth key challenge is wrong: it does not know the key");
  }
  conn.sendBytes(WELCOME);
}

/** The answering side, as steps: answer the challenge, then expect welcome. */
function* answer(conn: Connection, key: Uint8Array): Generator<string, void, Uint8Array> {
  const message = yield "challenge";
  if (!startsWith(message, CHALLENGE)) {
    throw new AuthenticationError("The peer sent no auth key challenge: it has no auth key, or another one's protocol");
  }
  conn.sendBytes(digest(key, message.subarray("#CHALLENGE#".length)));
  const verdict = yield "verdict";
  if (!same(verdict, WELCOME)) throw new AuthenticationError("The peer rejected our auth key: the keys differ");
}

function runSync(conn: Connection, steps: Generator<string, void, Uint8Array>, deadline: number): void {
  for (let step = steps.next(undefined as never); !step.done; ) {
    step = steps.next(receive(conn, step.value, deadline));
  }
}

async function runAsync(conn: Connection, steps: Generator<string, void, Uint8Array>, deadline: number): Promise<void> {
  for (let step = steps.next(undefined as never); !step.done; ) {
    step = steps.next(await receiveAsync(conn, step.value, deadline));
  }
}

/**
 * The listener's side: challenge the client, then answer its challenge,
 * within `timeout` ms in all. @throws AuthenticationError
 */
export function authenticateClientSync(conn: Connection, key: Uint8Array, timeout = HANDSHAKE_TIMEOUT_MS): void {
  const deadline = performance.now() + timeout;
  runSync(conn, challenge(conn, key), deadline);
  runSync(conn, answer(conn, key), deadline);
}

/** Async form of `authenticateClientSync`. */
export async function authenticateClient(
  conn: Connection,
  key: Uint8Array,
  timeout = HANDSHAKE_TIMEOUT_MS,
): Promise<void> {
  const deadline = performance.now() + timeout;
  await runAsync(conn, challenge(conn, key), deadline);
  await runAsync(conn, answer(conn, key), deadline);
}

/**
 * The client's side: answer the listener's challenge, then challenge it,
 * within `timeout` ms in all. @throws AuthenticationError
 */
export function authenticateListenerSync(conn: Connection, key: Uint8Array, timeout = HANDSHAKE_TIMEOUT_MS): void {
  const deadline = performance.now() + timeout;
  runSync(conn, answer(conn, key), deadline);
  runSync(conn, challenge(conn, key), deadline);
}

/** Async form of `authenticateListenerSync`. */
export async function authenticateListener(
  conn: Connection,
  key: Uint8Array,
  timeout = HANDSHAKE_TIMEOUT_MS,
): Promise<void> {
  const deadline = performance.now() + timeout;
  await runAsync(conn, answer(conn, key), deadline);
  await runAsync(conn, challenge(conn, key), deadline);
}
