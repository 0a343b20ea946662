/**
 * One async iterator over delivered messages: a queue between the client, which pushes, and a
 * `for await` loop, which pulls. It ends when the client closes, and throws when the client stops
 * on a terminal error. Leaving the loop (`break`, `return`) detaches it from the client.
 */
import type { DeliveredMessage } from './engagement';

export class MessageStream implements AsyncIterableIterator<DeliveredMessage> {
  private readonly queue: DeliveredMessage[] = [];
  private waiting: { resolve: (r: IteratorResult<DeliveredMessage>) => void; reject: (e: unknown) => void } | null = null;
  private ended = false;
  private failure: unknown = undefined;

  constructor(private readonly detach: (stream: MessageStream) => void) {}

  /** Messages received and not yet taken by the loop. */
  get buffered(): number {
    return this.queue.length;
  }

  push(message: DeliveredMessage): void {
    if (this.ended) return;
    if (this.waiting) {
      const { resolve } = this.waiting;
      this.waiting = null;
      resolve({ value: message, done: false });
    } else {
      this.queue.push(message);
    }
  }

  /** End the stream: buffered messages are still yielded, then `done` (or `error`, thrown). */
  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = error;
    this.detach(this);
    if (this.waiting && this.queue.length === 0) {
      const { resolve, reject } = this.waiting;
      this.waiting = null;
      if (error !== undefined) reject(error);
      else resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<DeliveredMessage>> {
    const message = this.queue.shift();
    if (message) return Promise.resolve({ value: message, done: false });
    if (this.ended) {
      if (this.failure !== undefined) {
        const failure = this.failure;
        this.failure = undefined;
        return Promise.reject(failure);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  return(): Promise<IteratorResult<DeliveredMessage>> {
    this.queue.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<DeliveredMessage> {
    return this;
  }
}
