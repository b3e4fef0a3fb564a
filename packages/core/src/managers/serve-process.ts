/**
 * The manager's server process (Python: `BaseManager._run_server`): makes
 * the Server, runs the initializer, tells the parent its address through a
 * one-way Pipe, and serves until shut down.
 */
import type { Connection } from "../channel/connection.ts";
import type { Address } from "../channel/listener.ts";
import { allowImports } from "../codec/exports.ts";
import { allowDaemonChildren } from "../process.ts";
import { type RegistryEntry, Server } from "./server.ts";

/** What the server process tells the manager that started it. */
export type ReadyMessage = { address: Address } | { error: unknown };

/**
 * The target of a manager's server process (exported: spawn and worker
 * children import it).
 */
export async function serveManager(
  entries: RegistryEntry[],
  address: Address | null,
  authkey: Uint8Array,
  ready: Connection,
  initializer: ((...a: unknown[]) => unknown) | null,
  initargs: unknown[],
  imports: string[] = [],
): Promise<void> {
  allowDaemonChildren();
  // Requests may name exports (a Pool task, a Barrier action) of modules the
  // starting program had loaded: the server imports those on demand, no others.
  allowImports(...imports);
  let server: Server;
  try {
    server = new Server(entries, { address: address ?? undefined, authkey });
    if (initializer !== null) await initializer(...initargs);
  } catch (error) {
    ready.send({ error } satisfies ReadyMessage);
    ready.close();
    return;
  }
  ready.send({ address: server.address } satisfies ReadyMessage);
  ready.close();
  await server.serveForever();
}
