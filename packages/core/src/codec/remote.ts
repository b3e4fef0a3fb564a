/**
 * Encoding for a receiver that may be on another machine (a Connection over
 * TCP): library objects that name this machine's descriptors or shared
 * memory cannot travel there. The places that hand those out while a value
 * is encoded (`shareFd`, an arena block's `handle`) ask `refuseIfRemote`.
 */

/** Thrown by `refuseIfRemote` ("holds ..."); the codec turns it into a PicklingError naming the object and its path. */
export class LocalOnly extends Error {}

let remote = 0;

/** Runs `encode` with every local resource refused. */
export function encodingRemote<T>(encode: () => T): T {
  remote += 1;
  try {
    return encode();
  } finally {
    remote -= 1;
  }
}

/** Throws `LocalOnly` while encoding for a remote receiver. @param what the resource, e.g. "a descriptor" */
export function refuseIfRemote(what: string): void {
  if (remote === 0) return;
  throw new LocalOnly(
    `holds ${what} of this machine, which cannot travel over TCP; send it over a unix socket (a Pipe, or a Listener on a path)`,
  );
}
