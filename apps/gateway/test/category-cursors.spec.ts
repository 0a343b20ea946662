/** A session's place in its categories' logs: which acks move the user's positions, and which are the inbox's. */
import { CategoryCursors } from '../src/acks/category-cursors';

function cursors(max = 10) {
  const moves: Array<[string, string]> = [];
  return { c: new CategoryCursors(max, (category, position) => moves.push([category, position])), moves };
}

it('moves the position to the entry before the oldest unacknowledged one, and to the last once all are', () => {
  const { c, moves } = cursors();
  c.start('news', '0-0');
  c.pushed('news', '1-0', 'm1');
  c.pushed('news', '2-0', 'm2');
  c.pushed('news', '3-0', 'm3');
  expect(c.sortAcks(['m2'], ['news'])).toEqual([]);
  expect(moves).toEqual([]); // m1 still waits
  expect(c.sortAcks(['m1'], ['news'])).toEqual([]);
  expect(moves).toEqual([['news', '2-0']]); // m3 waits: up to m2
  expect(c.sortAcks(['m3'], ['news'])).toEqual([]);
  expect(moves).toEqual([['news', '2-0'], ['news', '3-0']]);
});

it("returns the inbox's ids: no category, a category this session does not follow, or an id not pushed from it", () => {
  const { c, moves } = cursors();
  c.start('news', '0-0');
  c.pushed('news', '1-0', 'm1');
  c.pushed('live', '5-0', 'l1'); // joined while connected: followed without a position
  expect(c.sortAcks(['d1', 'l1', 'm9', 'm1'], [undefined, 'live', 'news', 'news'])).toEqual(['d1', 'l1', 'm9']);
  expect(c.sortAcks(['d2'])).toEqual(['d2']);
  expect(moves).toEqual([['news', '1-0']]);
});

it('stops moving a category past `max` unacknowledged entries, and forgets a dropped one', () => {
  const { c, moves } = cursors(2);
  c.start('news', '0-0');
  c.start('sport', '0-0');
  for (const n of [1, 2, 3]) c.pushed('news', `${n}-0`, `m${n}`);
  c.pushed('sport', '1-0', 's1');
  c.drop('sport');
  expect(c.sortAcks(['m1', 'm2', 'm3', 's1'], ['news', 'news', 'news', 'sport'])).toEqual(['m1', 'm2', 'm3', 's1']);
  expect(moves).toEqual([]);
});
