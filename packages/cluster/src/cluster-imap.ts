/**
 * `imap` and `imapUnordered` of a cluster Pool: the input is read lazily, at
 * most AHEAD chunks ahead of the consumer, so an endless generator runs in
 * bounded memory. Python's rules: when reading the input throws, the results
 * of the chunks read before are yielded first, then that error is thrown.
 */

/** Chunks sent and not yet yielded. */
const AHEAD = 32;

/** Sends one chunk; `settle` gets its values or its error. */
export type SendChunk = (items: unknown[], settle: (ok: boolean, value: unknown) => void) => void;

type Outcome = { ok: true; values: unknown[] } | { ok: false; error: unknown };

export async function* clusterImap<R>(
  source: Iterator<unknown> | AsyncIterator<unknown>,
  chunksize: number,
  ordered: boolean,
  send: SendChunk,
): AsyncGenerator<R> {
  const done = new Map<number, Outcome>();
  let wake: (() => void) | undefined;
  let sent = 0;
  let next = 0; // ordered: the chunk to yield next
  let finished = 0; // unordered: chunks yielded
  let inputError: { error: unknown } | undefined;
  let exhausted = false;

  const fill = async () => {
    while (!exhausted && inputError === undefined && sent - (ordered ? next : finished) < AHEAD) {
      const items: unknown[] = [];
      try {
        while (items.length < chunksize) {
          const r = await source.next();
          if (r.done) {
            exhausted = true;
            break;
          }
          items.push(r.value);
        }
      } catch (error) {
        // The chunk it broke off is not run (Python's rule).
        inputError = { error };
        return;
      }
      if (items.length === 0) return;
      const index = sent++;
      send(items, (ok, value) => {
        done.set(index, ok ? { ok: true, values: value as unknown[] } : { ok: false, error: value });
        wake?.();
      });
    }
  };

  for (;;) {
    await fill();
    const key = ordered ? next : done.keys().next().value;
    const outcome = key === undefined ? undefined : done.get(key);
    if (outcome !== undefined && key !== undefined) {
      done.delete(key);
      if (ordered) next++;
      else finished++;
      if (!outcome.ok) throw outcome.error;
      for (const v of outcome.values) yield v as R;
      continue;
    }
    if ((ordered ? next : finished) === sent) {
      if (inputError !== undefined) throw inputError.error;
      if (exhausted) return;
    }
    await new Promise<void>((resolve) => {
      wake = resolve;
    });
    wake = undefined;
  }
}
