import type { PositionMove } from '../src';

/** advancePositions' moves from user -> category, entry, … (one move per user, its first pair in fields). */
export function movesOf(positions: Iterable<readonly [string, readonly string[]]>): PositionMove[] {
  return [...positions].map(([userId, [category, entry, ...more]]) => ({ userId, category, entry, more: more.length > 0 ? more : null }));
}
