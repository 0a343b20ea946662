/**
 * The ids of messages already handed to the app, with whether each was acknowledged, kept across
 * reconnects so that a message sent again (at-least-once delivery) reaches the app once. Bounded:
 * past `capacity` the least recently seen id is forgotten. The gateway never resends more than a
 * user's offline list (1000 by default), so a capacity above that recognises every resend.
 */
export class DeliveredIds {
  /** id -> acknowledged; Map iteration order is insertion order, so the first key is the oldest. */
  private readonly ids = new Map<string, boolean>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a whole number of at least 1');
  }

  get size(): number {
    return this.ids.size;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** undefined for an id not (or no longer) remembered. */
  acked(id: string): boolean | undefined {
    return this.ids.get(id);
  }

  /** Remember a delivered id (as the most recent), forgetting the oldest past the capacity. */
  add(id: string, acked = false): void {
    this.ids.delete(id);
    this.ids.set(id, acked);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.keys().next().value as string);
  }

  /** Mark a remembered id acknowledged, keeping its place; unknown ids are ignored. */
  markAcked(id: string): void {
    if (this.ids.has(id)) this.ids.set(id, true);
  }
}
