/** A Worker that posts every message back. */
declare const self: Worker;
self.onmessage = (e: MessageEvent) => self.postMessage(e.data);
