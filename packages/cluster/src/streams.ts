/**
 * Creates a pool's streams when they do not exist yet; callers and worker
 * hosts both do, so tasks sent before any worker started are kept.
 */
import { AckPolicy, type JetStreamManager, RetentionPolicy, type StreamInfo } from "@nats-io/jetstream";
import type { PoolNames } from "./pool-name.ts";

/** How long the broker keeps a result nobody read (a caller that died), in ms. */
const RESULT_MAX_AGE = 60 * 60_000;

export async function ensureStreams(jsm: JetStreamManager, names: PoolNames): Promise<void> {
  await addIfMissing(jsm, names.taskStream, () =>
    jsm.streams.add({ name: names.taskStream, subjects: [names.taskSubject], retention: RetentionPolicy.Workqueue }),
  );
  await addIfMissing(jsm, names.resultStream, () =>
    jsm.streams.add({
      name: names.resultStream,
      subjects: [`${names.resultPrefix}.>`],
      retention: RetentionPolicy.Limits,
      max_age: RESULT_MAX_AGE * 1_000_000,
    }),
  );
}

/**
 * The workers' durable consumer, its ack wait set to `ackWait` ms: a task
 * held that long by a host that neither acknowledged it nor said it is still
 * working on it goes to another host.
 */
export async function ensureConsumer(jsm: JetStreamManager, names: PoolNames, ackWait: number): Promise<void> {
  const config = { durable_name: names.consumer, ack_policy: AckPolicy.Explicit, ack_wait: ackWait * 1_000_000 };
  try {
    const info = await jsm.consumers.info(names.taskStream, names.consumer);
    if (info.config.ack_wait !== config.ack_wait) {
      await jsm.consumers.update(names.taskStream, names.consumer, { ack_wait: config.ack_wait });
    }
  } catch {
    await jsm.consumers.add(names.taskStream, config);
  }
}

/**
 * The stream's info, after adding it if it is missing. Two users adding the
 * same stream at once race in the broker: the loser may be told "subjects
 * overlap" while the winner's stream is being made, so it looks again.
 */
export async function addIfMissing(
  jsm: JetStreamManager,
  stream: string,
  add: () => Promise<StreamInfo>,
): Promise<StreamInfo> {
  try {
    return await jsm.streams.info(stream);
  } catch {
    try {
      return await add();
    } catch (error) {
      for (let attempt = 0; ; attempt++) {
        try {
          return await jsm.streams.info(stream);
        } catch {
          if (attempt >= 20) throw error;
          await Bun.sleep(25);
        }
      }
    }
  }
}
