/**
 * The ids one session may acknowledge: those it pushed (or is about to push from its inbox
 * snapshot) and has not seen acknowledged. An ack costs Redis work only for these; every other id
 * (never pushed here, acknowledged already, repeated) is ignored and counted. The set is bounded:
 * past `max` the oldest id is forgotten (its ack is ignored later, and the message, still in the
 * inbox, comes again on the next connection).
 *
 * The map of pending ids always holds one more entry, under a symbol no id can equal: V8 gives an
 * emptied Map a new table, so a session acknowledging each message as it comes (one pending id,
 * then none) would allocate one per ack, held by the long-lived map until the next push; in a
 * broadcast that was an eighth of what outlived the gateway's young generation (docs/BENCHMARKS.md).
 *
 * Nor does the one pending id of such a session go into the map at all: it is kept in two fields
 * (`soloId`, `soloState`) while no other id is pending, and moves into the map, ahead of the
 * others, when a second one comes. A map that an id enters and leaves at every push fills its
 * table with deleted entries and is given a new one every few pushes, which lived until the next
 * and so outlived the young generation: per member of a broadcast, the largest thing a scavenge
 * still copied (docs/BENCHMARKS.md, "What a broadcast's scavenges kept").
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
/** The entry that keeps the pending map from emptying (see the header); first in its order. */
const KEEP = Symbol('keep');

/** What `takeOne` found: a pending id's category (a category log entry), or whether it was pending. */
export type Taken = string | boolean;

export class AckTracker {
  /** id -> state, after KEEP; Map iteration order is insertion order, so the second key is the oldest id. */
  private readonly pending = new Map<string | typeof KEEP, State>([[KEEP, PUSHED]]);
  /** The one pending id while the map holds no other (see the header); null when there is none. */
  private soloId: string | null = null;
  /** Its state (never EXPECTED: expected ids go into the map). */
  private soloState: State = PUSHED;
  /** Snapshot ids acknowledged before the drain pushed them: the drain skips them (made at the first). */
  private ackedEarly: Set<string> | null = null;
  /** Ids forgotten past the bound (they may still be acknowledged, and are then ignored). */
  forgotten = 0;

  constructor(private readonly max: number) {}

  get size(): number {
    return this.pending.size - 1 + (this.soloId === null ? 0 : 1);
  }

  /**
   * The inbox snapshot about to be drained (oldest first): its ids may be acknowledged before
   * they are pushed (a client sends what it acknowledged while disconnected right after
   * `welcome`). Only as many as fit are noted; the rest are noted when pushed.
   */
  expect(ids: readonly string[]): void {
    this.unsolo();
    const room = this.max - this.size;
    for (let i = 0; i < ids.length && i < room; i++) if (!this.pending.has(ids[i])) this.pending.set(ids[i], EXPECTED);
  }

  /**
   * Called before the drain pushes `id`: true when it was acknowledged already in this session,
   * so it need not be pushed.
   */
  acknowledgedBeforePush(id: string): boolean {
    return this.ackedEarly?.delete(id) ?? false;
  }

  /** The drain is over: nothing is expected any more that was not pushed. */
  endDrain(): void {
    this.ackedEarly = null;
    for (const [id, state] of this.pending) if (state === EXPECTED) this.pending.delete(id);
  }

  /**
   * `id` was written to the socket, as an entry of `category`'s log if given (its ack then moves
   * the session's place there: category-cursors.ts); returns how many ids the bound made it
   * forget (0 or 1).
   */
  pushed(id: string, category?: string): number {
    const state = category ?? PUSHED;
    if (this.soloId === id) {
      this.soloState = state;
      return 0;
    }
    if (this.soloId === null && this.pending.size === 1 && this.max > 0) {
      this.soloId = id;
      this.soloState = state;
      return 0;
    }
    this.unsolo();
    if (this.pending.has(id)) {
      this.pending.set(id, state);
      return 0;
    }
    this.pending.set(id, state);
    if (this.size <= this.max) return 0;
    const keys = this.pending.keys();
    keys.next();
    this.pending.delete(keys.next().value!);
    this.forgotten++;
    return 1;
  }

  /**
   * One acknowledged id: it stops being pending. Returns the category it was pushed from (a
   * category's log entry), true for another pending id, false when it was not pending. An ack
   * frame of one id (a client acknowledging each message as it comes) is sorted with no array.
   */
  takeOne(id: string): Taken {
    if (this.soloId === id) {
      this.soloId = null;
      return typeof this.soloState === 'string' ? this.soloState : true;
    }
    const state = this.pending.get(id);
    if (state === undefined) return false;
    this.pending.delete(id);
    if (state === EXPECTED) (this.ackedEarly ??= new Set()).add(id);
    return typeof state === 'string' ? state : true;
  }

  /** The id kept alone goes into the map, where it is the oldest (the map holds no other). */
  private unsolo(): void {
    if (this.soloId === null) return;
    this.pending.set(this.soloId, this.soloState);
    this.soloId = null;
  }

  /** Sort an ack frame's ids; the known ones stop being pending. */
  take(ids: readonly string[]): AckSort {
    const known: string[] = [];
    let categories: Array<string | undefined> | undefined;
    let unknown = 0;
    let repeated = 0;
    let seen: Set<string> | undefined;
    for (const id of ids) {
      const taken = this.takeOne(id);
      if (taken !== false) {
        if (typeof taken === 'string') (categories ??= new Array<string | undefined>(known.length)).push(taken);
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
