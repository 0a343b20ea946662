/**
 * The ids one session may acknowledge: those it pushed (or is about to push from its inbox
 * snapshot) and has not seen acknowledged. An ack costs Redis work only for these; every other id
 * (never pushed here, acknowledged already, repeated) is ignored and counted. The set is bounded:
 * past `max` the oldest id is forgotten (its ack is ignored later, and the message, still in the
 * inbox, comes again on the next connection).
 */

/** What an ack frame's ids came to. */
export interface AckSort {
  /** Ids pending for this session, each once, in frame order: these go to Redis. */
  known: string[];
  /**
   * For each known id, the category whose log entry it was pushed as (see pushed()); undefined
   * for the others. Absent when none was.
   */
  categories?: Array<string | undefined>;
  /** Ids not pending here: never pushed to this session, acknowledged already, or forgotten. */
  unknown: number;
  /** Ids that came earlier in the same frame. */
  repeated: number;
}

/** An id of the snapshot being drained, not pushed yet. */
const EXPECTED = 0;
/** An id pushed to the socket (a category's entry: its category instead). */
const PUSHED = 1;
type State = typeof EXPECTED | typeof PUSHED | string;

export class AckTracker {
  /** id -> state; Map iteration order is insertion order, so the first key is the oldest. */
  private readonly pending = new Map<string, State>();
  /** Snapshot ids acknowledged before the drain pushed them: the drain skips them. */
  private readonly ackedEarly = new Set<string>();
  /** Ids forgotten past the bound (they may still be acknowledged, and are then ignored). */
  forgotten = 0;

  constructor(private readonly max: number) {}

  get size(): number {
    return this.pending.size;
  }

  /**
   * The inbox snapshot about to be drained (oldest first): its ids may be acknowledged before
   * they are pushed (a client sends what it acknowledged while disconnected right after
   * `welcome`). Only as many as fit are noted; the rest are noted when pushed.
   */
  expect(ids: readonly string[]): void {
    const room = this.max - this.pending.size;
    for (let i = 0; i < ids.length && i < room; i++) if (!this.pending.has(ids[i])) this.pending.set(ids[i], EXPECTED);
  }

  /**
   * Called before the drain pushes `id`: true when it was acknowledged already in this session,
   * so it need not be pushed.
   */
  acknowledgedBeforePush(id: string): boolean {
    return this.ackedEarly.delete(id);
  }

  /** The drain is over: nothing is expected any more that was not pushed. */
  endDrain(): void {
    this.ackedEarly.clear();
    for (const [id, state] of this.pending) if (state === EXPECTED) this.pending.delete(id);
  }

  /**
   * `id` was written to the socket, as an entry of `category`'s log if given (its ack then moves
   * the session's place there: category-cursors.ts); returns how many ids the bound made it
   * forget (0 or 1).
   */
  pushed(id: string, category?: string): number {
    const state = category ?? PUSHED;
    if (this.pending.has(id)) {
      this.pending.set(id, state);
      return 0;
    }
    this.pending.set(id, state);
    if (this.pending.size <= this.max) return 0;
    const [oldest] = this.pending.keys();
    this.pending.delete(oldest);
    this.forgotten++;
    return 1;
  }

  /** Sort an ack frame's ids; the known ones stop being pending. */
  take(ids: readonly string[]): AckSort {
    const known: string[] = [];
    let categories: Array<string | undefined> | undefined;
    let unknown = 0;
    let repeated = 0;
    let seen: Set<string> | undefined;
    for (const id of ids) {
      const state = this.pending.get(id);
      if (state !== undefined) {
        this.pending.delete(id);
        if (state === EXPECTED) this.ackedEarly.add(id);
        if (typeof state === 'string') (categories ??= new Array<string | undefined>(known.length)).push(state);
        else categories?.push(undefined);
        known.push(id);
        if (ids.length > 1) (seen ??= new Set()).add(id);
      } else if (seen?.has(id)) {
        repeated++;
      } else {
        unknown++;
      }
    }
    return categories ? { known, categories, unknown, repeated } : { known, unknown, repeated };
  }
}
