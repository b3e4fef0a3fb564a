/**
 * Publishing to a stream through a broker restart or a reconnect: the client
 * reconnects by itself, and a publish that failed meanwhile is sent again
 * (with the same message id, which the broker dedupes within its duplicate
 * window) until it is stored or the connection is closed for good.
 */
import type { JetStreamClient, JetStreamPublishOptions } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";

/** Wait between attempts, in ms. */
const RETRY_MS = 250;

/** Resolves once the broker stored the message. @throws the last error once `nc` is closed */
export async function publishStored(
  nc: NatsConnection,
  js: JetStreamClient,
  subject: string,
  body: Uint8Array,
  opts: Partial<JetStreamPublishOptions> & { msgID: string },
): Promise<void> {
  for (;;) {
    try {
      await js.publish(subject, body, opts);
      return;
    } catch (error) {
      if (nc.isClosed()) throw error;
      await Bun.sleep(RETRY_MS);
    }
  }
}
