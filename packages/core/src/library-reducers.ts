/**
 * Where the reducer of each library class lives, for `loads`: the module of
 * a class loads (and registers its reducer) when the first object of that
 * class arrives, not before. Each module costs a realm time, above all a new
 * child's start, and most programs use a few of the classes. Imported by
 * core's entry points (index.ts, internal.ts, child-realm.ts).
 */
import { loadReducersOnDemand } from "./codec/reducers.ts";

loadReducersOnDemand({
  Lock: () => require("./sync/lock.ts"),
  RLock: () => require("./sync/rlock.ts"),
  Semaphore: () => require("./sync/semaphore.ts"),
  BoundedSemaphore: () => require("./sync/bounded-semaphore.ts"),
  Condition: () => require("./sync/condition.ts"),
  Event: () => require("./sync/event.ts"),
  Barrier: () => require("./sync/barrier.ts"),
  Connection: () => require("./channel/connection.ts"),
  Queue: () => require("./channel/queue.ts"),
  JoinableQueue: () => require("./channel/joinable-queue.ts"),
  SimpleQueue: () => require("./channel/simple-queue.ts"),
  Value: () => require("./shared/value.ts"),
  RawValue: () => require("./shared/value.ts"),
  SharedArray: () => require("./shared/array.ts"),
});
