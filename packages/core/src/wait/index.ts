/** How every library wait spins, sleeps and times out (one base below sync/, channel/ and pool/, #19). */
export { deadlineOf, timeLeft } from "./deadline.ts";
export { holderDied, takeOverDead } from "./dead-holder.ts";
export { pollUntil, type WatchedWord, waitUntil } from "./poll.ts";
export { nextTurn, receiveSpinMs, spinStep } from "./spin.ts";
export { nextPause, POLL_SPIN_TURNS, SLICE_MS, SPIN_TRIES, WORD_SPIN_TURNS } from "./tuning.ts";
export {
  awaitCounted,
  awaitWhile,
  awaitWord,
  type SharedWord,
  sleepCounted,
  sleepOnWord,
  sleepWhile,
} from "./word.ts";
