/**
 * The auth-key handshake of `Listener` and `Client` (Python 3.12's
 * `deliver_challenge` / `answer_challenge` with SHA-256): each side sends a
 * random challenge, the other answers with HMAC-SHA256(authkey, challenge),
 * and the challenger says welcome or failure. Only raw bytes with a length
 * limit are read until both sides have proved the key: nothing from an
 * unauthenticated peer is decoded. The six messages, each a frame of its own:
 *
 *     listener -> client   #CHALLENGE#{sha256} + 40 random bytes
 *     client -> listener   HMAC of it        , then the client's own #CHALLENGE#{sha256} + 40 bytes
 *     listener -> client   #WELCOME# (or #FAILURE# and close), then the HMAC of the client's challenge
 *     client -> listener   #WELCOME# (or #FAILURE# and close)
 *
 * The listener keeps Python's order; the client sends its challenge behind
 * its answer instead of after the welcome (see `clientSteps`): four trips
 * across the connection instead of six.
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

/** A fresh challenge message: the CHALLENGE prefix and NONCE_BYTES random bytes. */
function newChallenge(): Uint8Array {
  const message = new Uint8Array(CHALLENGE.byteLength + NONCE_BYTES);
  message.set(CHALLENGE);
  crypto.getRandomValues(message.subarray(CHALLENGE.byteLength));
  return message;
}

/** Checks the peer's answer to `message`; says welcome, or failure and throws. */
function judge(conn: Connection, key: Uint8Array, message: Uint8Array, answer: Uint8Array): void {
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

/** Answers the challenge `message` from the peer. */
function respond(conn: Connection, key: Uint8Array, message: Uint8Array): void {
  if (!startsWith(message, CHALLENGE)) {
    throw new AuthenticationError("The peer sent no auth key challenge: it has no auth key, or another one's protocol");
  }
  conn.sendBytes(digest(key, message.subarray("#CHALLENGE#".length)));
}

/** Throws unless `verdict` is the peer's welcome. */
function welcomed(verdict: Uint8Array): void {
  if (!same(verdict, WELCOME)) throw new AuthenticationError("The peer rejected our auth key: the keys differ");
}

/**
 * The listener's side, as steps, in Python's order: challenge the client,
 * check its answer, say welcome or failure; then answer the client's
 * challenge and expect its welcome.
 */
function* listenerSteps(conn: Connection, key: Uint8Array): Generator<string, void, Uint8Array> {
  const message = newChallenge();
  conn.sendBytes(message);
  judge(conn, key, message, yield "challenge's answer");
  respond(conn, key, yield "challenge");
  welcomed(yield "verdict");
}

/**
 * The client's side, as steps: answer the listener's challenge and send our
 * own right behind the answer, then expect the listener's welcome and its
 * answer, and say welcome or failure. Python's client waits for the welcome
 * before it challenges: the same six messages, but sent this way the
 * listener finds our challenge queued once it has welcomed us and answers at
 * once, so the handshake takes four trips across the connection, not six
 * (#20: accepts with an auth key measured 0.2-0.4x CPython). The listener
 * still answers only after it checked our answer; our challenge is random
 * bytes, which it reads with the same length limit and never decodes.
 */
function* clientSteps(conn: Connection, key: Uint8Array): Generator<string, void, Uint8Array> {
  respond(conn, key, yield "challenge");
  const message = newChallenge();
  try {
    conn.sendBytes(message);
  } catch (err) {
    // The listener already refused our answer and closed: its verdict (or the close) says so below.
    if (!(err instanceof EOFError)) throw err;
  }
  welcomed(yield "verdict");
  judge(conn, key, message, yield "challenge's answer");
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
  runSync(conn, listenerSteps(conn, key), performance.now() + timeout);
}

/** Async form of `authenticateClientSync`. */
export async function authenticateClient(
  conn: Connection,
  key: Uint8Array,
  timeout = HANDSHAKE_TIMEOUT_MS,
): Promise<void> {
  await runAsync(conn, listenerSteps(conn, key), performance.now() + timeout);
}

/**
 * The client's side: answer the listener's challenge and challenge it
 * (see `clientSteps`), within `timeout` ms in all. @throws AuthenticationError
 */
export function authenticateListenerSync(conn: Connection, key: Uint8Array, timeout = HANDSHAKE_TIMEOUT_MS): void {
  runSync(conn, clientSteps(conn, key), performance.now() + timeout);
}

/** Async form of `authenticateListenerSync`. */
export async function authenticateListener(
  conn: Connection,
  key: Uint8Array,
  timeout = HANDSHAKE_TIMEOUT_MS,
): Promise<void> {
  await runAsync(conn, clientSteps(conn, key), performance.now() + timeout);
}
