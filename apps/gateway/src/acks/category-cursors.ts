/**
 * A session's place in each of its categories' logs (libs/redis category-log.ts). Per category:
 * `considered`, the last entry pushed or passed (expired, acknowledged before it was pushed), in
 * log order; the entries pushed and not acknowledged, each with the entry considered before it.
 * The user's position may move to the entry before the oldest unacknowledged one, or to
 * `considered` when none is left: everything up to there was acknowledged or passed, in this
 * session, from the position the session started at. A duplicate entry (a note that comes after
 * the drain read the same entry from the log) is one not after `considered`.
 *
 * A category the user joined while connected is followed live from the gateway's subscription on,
 * without moving its position (the session does not have what came between the join and the
 * subscription: the next connection reads it from the log). So is a category whose unacknowledged
 * entries pass `max` (WS_MAX_UNACKED_IDS): its position stays, and the next connection resends.
 */
import { compareEntryIds } from '@herald/redis';

interface Unacked {
  id: string;
  /** The entry considered before this one's. */
  prev: string;
}

/**
 * A cursor's unacknowledged entries, oldest first. The oldest is kept in fields, the others in an
 * array made only when a second one waits: a client that acknowledges each entry before the next
 * (every member of a broadcast) costs no object per push, where an object and an array held from
 * push to ack outlived the gateway's young generation (docs/BENCHMARKS.md).
 */
class UnackedEntries {
  private headId: string | null = null;
  private headPrev = '';
  private rest: Unacked[] | null = null;

  get length(): number {
    return (this.headId === null ? 0 : 1) + (this.rest?.length ?? 0);
  }

  /** The entry considered before the oldest (null when none waits). */
  get oldestPrev(): string | null {
    return this.headId === null ? null : this.headPrev;
  }

  /** `id` was pushed; `prev` is the entry considered before its entry. */
  push(id: string, prev: string): void {
    if (this.headId === null) {
      this.headId = id;
      this.headPrev = prev;
    } else (this.rest ??= []).push({ id, prev });
  }

  /** Take `id` out; false when it is not waiting. Acks come mostly in push order: the oldest goes first. */
  remove(id: string): boolean {
    if (this.headId === null) return false;
    if (this.headId === id) {
      const next = this.rest?.shift();
      this.headId = next?.id ?? null;
      this.headPrev = next?.prev ?? '';
      return true;
    }
    const rest = this.rest;
    if (rest === null) return false;
    for (let i = 0; i < rest.length; i++) {
      if (rest[i].id !== id) continue;
      rest.splice(i, 1);
      return true;
    }
    return false;
  }
}

interface Cursor {
  considered: string | null;
  unacked: UnackedEntries;
  /** The position last asked for (or read at the start); positions only move forward. */
  written: string | null;
  /** True when this session must not move the position (see the header). */
  frozen: boolean;
}

export class CategoryCursors {
  private readonly cursors = new Map<string, Cursor>();

  constructor(
    private readonly max: number,
    /** The user's position in `category` may move to `position` (written by the ack batcher). */
    private readonly move: (category: string, position: string) => void,
  ) {}

  /** Read `category` from `position` on (the connect's snapshot): acks move its position. */
  start(category: string, position: string): void {
    this.cursors.set(category, { considered: position, unacked: new UnackedEntries(), written: position, frozen: false });
  }

  /** True when `entry` is new to this session: after every entry it pushed or passed in `category`. */
  fresh(category: string, entry: string): boolean {
    const cursor = this.cursor(category);
    return cursor.considered === null || compareEntryIds(entry, cursor.considered) > 0;
  }

  /** `entry` (message `id`) was pushed. */
  pushed(category: string, entry: string, id: string): void {
    const cursor = this.cursor(category);
    if (!cursor.frozen && cursor.considered !== null) {
      cursor.unacked.push(id, cursor.considered);
      if (cursor.unacked.length > this.max) this.freeze(cursor);
    }
    cursor.considered = entry;
  }

  /** `entry` needs no push (expired, or acknowledged before it was pushed). */
  passed(category: string, entry: string): void {
    const cursor = this.cursor(category);
    if (cursor.considered !== null && compareEntryIds(entry, cursor.considered) <= 0) return;
    cursor.considered = entry;
    const position = this.moved(cursor);
    if (position) this.move(category, position);
  }

  /**
   * Acknowledged ids, with the category each was pushed from (`categories[i]` for `ids[i]`, the
   * session's AckTracker knows it; undefined or none: not a category entry). The category entries
   * among them may move positions; returns the others, the inbox's ids (with those this session
   * does not follow: its cursor frozen or dropped).
   */
  sortAcks(ids: readonly string[], categories?: ReadonlyArray<string | undefined>): string[] {
    const inbox: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const category = categories?.[i];
      if (category === undefined || !this.acked(ids[i], category)) inbox.push(ids[i]);
    }
    return inbox;
  }

  /**
   * One acknowledged id pushed as an entry of `category` (sortAcks for a single id, with no
   * array): true when the entry was this session's to move the position for, false when the id
   * belongs to the inbox's (the cursor frozen or dropped).
   */
  acked(id: string, category: string): boolean {
    const cursor = this.cursors.get(category);
    if (cursor === undefined || !cursor.unacked.remove(id)) return false;
    const position = this.moved(cursor);
    if (position) this.move(category, position);
    return true;
  }

  /** The user left `category`: forget it. */
  drop(category: string): void {
    this.cursors.delete(category);
  }

  private cursor(category: string): Cursor {
    let cursor = this.cursors.get(category);
    if (!cursor) this.cursors.set(category, (cursor = { considered: null, unacked: new UnackedEntries(), written: null, frozen: true }));
    return cursor;
  }

  private moved(cursor: Cursor): string | null {
    if (cursor.frozen) return null;
    const position = cursor.unacked.oldestPrev ?? cursor.considered;
    if (position === null || (cursor.written !== null && compareEntryIds(position, cursor.written) <= 0)) return null;
    cursor.written = position;
    return position;
  }

  private freeze(cursor: Cursor): void {
    cursor.frozen = true;
    cursor.unacked = new UnackedEntries();
  }
}
