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
  entry: string;
  /** The entry considered before this one. */
  prev: string;
}

interface Cursor {
  considered: string | null;
  unacked: Unacked[];
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
    this.cursors.set(category, { considered: position, unacked: [], written: position, frozen: false });
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
      cursor.unacked.push({ id, entry, prev: cursor.considered });
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
      const id = ids[i];
      const category = categories?.[i];
      const cursor = category === undefined ? undefined : this.cursors.get(category);
      const at = cursor ? indexOfId(cursor.unacked, id) : -1;
      if (category === undefined || cursor === undefined || at < 0) {
        inbox.push(id);
        continue;
      }
      // Acks come mostly in push order: the oldest goes without copying the rest.
      if (at === 0) cursor.unacked.shift();
      else cursor.unacked.splice(at, 1);
      const position = this.moved(cursor);
      if (position) this.move(category, position);
    }
    return inbox;
  }

  /** The user left `category`: forget it. */
  drop(category: string): void {
    this.cursors.delete(category);
  }

  private cursor(category: string): Cursor {
    let cursor = this.cursors.get(category);
    if (!cursor) this.cursors.set(category, (cursor = { considered: null, unacked: [], written: null, frozen: true }));
    return cursor;
  }

  private moved(cursor: Cursor): string | null {
    if (cursor.frozen) return null;
    const position = cursor.unacked.length > 0 ? cursor.unacked[0].prev : cursor.considered;
    if (position === null || (cursor.written !== null && compareEntryIds(position, cursor.written) <= 0)) return null;
    cursor.written = position;
    return position;
  }

  private freeze(cursor: Cursor): void {
    cursor.frozen = true;
    cursor.unacked = [];
  }
}

/** Where `id` is among a cursor's unacknowledged entries, -1 if not (a loop: no closure per ack). */
function indexOfId(unacked: readonly Unacked[], id: string): number {
  for (let i = 0; i < unacked.length; i++) if (unacked[i].id === id) return i;
  return -1;
}
