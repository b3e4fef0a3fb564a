/** A free TCP port on 127.0.0.1, and waiting until a server listens on one: for the brokers the bench starts. */

/** A port nothing listens on right now (the kernel's pick). */
export async function freePort(): Promise<number> {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const { port } = server;
  server.stop(true);
  return port;
}

/** Waits until `port` accepts a connection, or throws naming `what` after `ms`. */
export async function waitForPort(port: number, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  for (;;) {
    try {
      (await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } })).end();
      return;
    } catch {
      if (performance.now() > deadline) throw new Error(`${what} did not listen on ${port} within ${ms} ms`);
      await Bun.sleep(10);
    }
  }
}
