/**
 * Where each library class lives, loaded at its first use: by a factory of
 * the context (`mp.Lock()` loads sync/lock.ts), or by `loads` when the first
 * object of that class arrives (its module registers the reducer). Each
 * module costs a realm time, above all a new child's start, and most
 * programs use a few of the classes. Imported by core's entry points
 * (index.ts, internal.ts, child-realm.ts).
 */
import { loadReducersOnDemand } from "./codec/reducers.ts";

/** A module, loaded at the first call and kept. */
function lazy<M>(load: () => M): () => M {
  let module: M | undefined;
  return () => {
    module ??= load();
    return module;
  };
}

export const lockModule = lazy(() => require("./sync/lock.ts") as typeof import("./sync/lock.ts"));
export const rlockModule = lazy(() => require("./sync/rlock.ts") as typeof import("./sync/rlock.ts"));
export const semaphoreModule = lazy(() => require("./sync/semaphore.ts") as typeof import("./sync/semaphore.ts"));
export const boundedModule = lazy(
  () => require("./sync/bounded-semaphore.ts") as typeof import("./sync/bounded-semaphore.ts"),
);
export const conditionModule = lazy(() => require("./sync/condition.ts") as typeof import("./sync/condition.ts"));
export const eventModule = lazy(() => require("./sync/event.ts") as typeof import("./sync/event.ts"));
export const barrierModule = lazy(() => require("./sync/barrier.ts") as typeof import("./sync/barrier.ts"));
export const connectionModule = lazy(
  () => require("./channel/connection.ts") as typeof import("./channel/connection.ts"),
);
export const pipeModule = lazy(() => require("./channel/pipe.ts") as typeof import("./channel/pipe.ts"));
export const queueModule = lazy(() => require("./channel/queue.ts") as typeof import("./channel/queue.ts"));
export const joinableModule = lazy(
  () => require("./channel/joinable-queue.ts") as typeof import("./channel/joinable-queue.ts"),
);
export const simpleQueueModule = lazy(
  () => require("./channel/simple-queue.ts") as typeof import("./channel/simple-queue.ts"),
);
export const valueModule = lazy(() => require("./shared/value.ts") as typeof import("./shared/value.ts"));
export const arrayModule = lazy(() => require("./shared/array.ts") as typeof import("./shared/array.ts"));
export const poolModule = lazy(() => require("./pool/pool.ts") as typeof import("./pool/pool.ts"));
export const listenerModule = lazy(() => require("./channel/listener.ts") as typeof import("./channel/listener.ts"));
export const connectionWaitModule = lazy(
  () => require("./channel/connection-wait.ts") as typeof import("./channel/connection-wait.ts"),
);

export const managerModule = lazy(() => require("./managers/manager.ts") as typeof import("./managers/manager.ts"));
export const baseManagerModule = lazy(
  () => require("./managers/base-manager.ts") as typeof import("./managers/base-manager.ts"),
);
export const proxyModule = lazy(() => require("./managers/proxy.ts") as typeof import("./managers/proxy.ts"));

export const sharedMemoryModule = lazy(
  () => require("./shared-memory/shared-memory.ts") as typeof import("./shared-memory/shared-memory.ts"),
);
export const shareableListModule = lazy(
  () => require("./shared-memory/shareable-list.ts") as typeof import("./shared-memory/shareable-list.ts"),
);
export const sharedMemoryManagerModule = lazy(
  () =>
    require("./shared-memory/shared-memory-manager.ts") as typeof import("./shared-memory/shared-memory-manager.ts"),
);
export const trackerModule = lazy(
  () => require("./shared-memory/tracker.ts") as typeof import("./shared-memory/tracker.ts"),
);

/**
 * A stand-in for a class whose module loads at its first use: `new`, a
 * static member, `instanceof`, or a subclass's `extends` (which reads
 * `prototype`). The public classes that users construct themselves
 * (`new SharedMemory(...)`) are exported as these.
 */
export function lazyClass<C extends abstract new (...args: never[]) => object>(load: () => C): C {
  // A plain function: constructible, and its own properties are all writable or configurable, so any may be forwarded.
  // (A declaration: an arrow function, which a linter might prefer, is not constructible.)
  function stand(): void {}
  const proxy: C = new Proxy(stand as unknown as C, {
    construct: (_target, args, newTarget) =>
      Reflect.construct(
        load() as unknown as new (
          ...a: unknown[]
        ) => object,
        args,
        newTarget === proxy ? load() : newTarget,
      ),
    get: (_target, key) =>
      key === Symbol.hasInstance ? (v: unknown) => v instanceof load() : Reflect.get(load(), key),
    has: (_target, key) => Reflect.has(load(), key),
  });
  return proxy;
}

/** `SharedMemory`, loaded at first use. */
export const SharedMemoryClass = lazyClass(() => sharedMemoryModule().SharedMemory);
/** `ShareableList`, loaded at first use. */
export const ShareableListClass = lazyClass(() => shareableListModule().ShareableList);
/** `SharedMemoryManager`, loaded at first use. */
export const SharedMemoryManagerClass = lazyClass(() => sharedMemoryManagerModule().SharedMemoryManager);

// By wire tag family ("SharedArray" for "SharedArray.Int32Array").
loadReducersOnDemand({
  Lock: lockModule,
  RLock: rlockModule,
  Semaphore: semaphoreModule,
  BoundedSemaphore: boundedModule,
  Condition: conditionModule,
  Event: eventModule,
  Barrier: barrierModule,
  Connection: connectionModule,
  Queue: queueModule,
  JoinableQueue: joinableModule,
  SimpleQueue: simpleQueueModule,
  Value: valueModule,
  RawValue: valueModule,
  SharedArray: arrayModule,
  SharedMemory: sharedMemoryModule,
  ShareableList: shareableListModule,
  ShmTracker: trackerModule,
  ManagerProxy: proxyModule,
});
