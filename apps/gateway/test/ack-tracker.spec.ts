/** What a session may be acked for: pushed or drained ids, each once, bounded. */
import { AckTracker } from '../src/acks/ack-tracker';

it('takes each pushed id once; unknown, acked-already and repeated ids are ignored', () => {
  const acks = new AckTracker(10);
  acks.pushed('a');
  acks.pushed('b');
  expect(acks.take(['a', 'a', 'x', 'b'])).toEqual({ known: ['a', 'b'], unknown: 1, repeated: 1 });
  expect(acks.take(['a', 'b'])).toEqual({ known: [], unknown: 2, repeated: 0 });
  expect(acks.size).toBe(0);
});

it('forgets the oldest pushed id past its bound, and counts it', () => {
  const acks = new AckTracker(2);
  expect([acks.pushed('a'), acks.pushed('b'), acks.pushed('c')]).toEqual([0, 0, 1]);
  expect(acks.forgotten).toBe(1);
  expect(acks.take(['a', 'b', 'c'])).toEqual({ known: ['b', 'c'], unknown: 1, repeated: 0 });
});

it('takes acks for the snapshot being drained; the drain skips what was acked before its turn', () => {
  const acks = new AckTracker(3);
  acks.expect(['s1', 's2', 's3', 's4']); // only as many as fit
  expect(acks.take(['s2', 's4'])).toEqual({ known: ['s2'], unknown: 1, repeated: 0 });
  expect(acks.acknowledgedBeforePush('s1')).toBe(false);
  acks.pushed('s1');
  expect(acks.acknowledgedBeforePush('s2')).toBe(true);
  expect(acks.acknowledgedBeforePush('s2')).toBe(false);
  acks.endDrain(); // s3 was never pushed (expired): no longer expected
  expect(acks.take(['s1', 's3'])).toEqual({ known: ['s1'], unknown: 1, repeated: 0 });
});

it("names the category of the ids pushed as a category's log entries, beside the frame's known ids", () => {
  const acks = new AckTracker(10);
  acks.pushed('direct');
  acks.pushed('c1', 'news');
  acks.pushed('c2', 'sport');
  expect(acks.take(['c1', 'direct', 'x', 'c2'])).toEqual({
    known: ['c1', 'direct', 'c2'],
    categories: ['news', undefined, 'sport'],
    unknown: 1,
    repeated: 0,
  });
  acks.pushed('d1');
  acks.pushed('c3', 'news');
  const late = acks.take(['d1', 'c3']);
  expect(late.known).toEqual(['d1', 'c3']);
  expect(late.categories).toHaveLength(2);
  expect(late.categories?.[0]).toBeUndefined();
  expect(late.categories?.[1]).toBe('news');
  acks.pushed('d2');
  expect(acks.take(['d2'])).toStrictEqual({ known: ['d2'], unknown: 0, repeated: 0 });
});

it('takes one id: its category, true for another pending id, false for an id not pending', () => {
  const acks = new AckTracker(2);
  acks.pushed('direct');
  acks.pushed('c1', 'news');
  expect([acks.takeOne('c1'), acks.takeOne('direct'), acks.takeOne('direct'), acks.takeOne('x')]).toEqual(['news', true, false, false]);
  // Emptied, it counts and bounds only ids: two fit again, the third forgets the oldest.
  expect(acks.size).toBe(0);
  expect([acks.pushed('a'), acks.pushed('b'), acks.pushed('c')]).toEqual([0, 0, 1]);
  expect([acks.takeOne('a'), acks.takeOne('b'), acks.takeOne('c')]).toEqual([false, true, true]);
});

it('counts and bounds an id pending alone like any other: a drain expects only what fits beside it', () => {
  const acks = new AckTracker(2);
  acks.pushed('a', 'news'); // acknowledged before the next push: the common case, kept alone
  acks.pushed('a', 'sport'); // pushed again: its newer category counts
  expect(acks.size).toBe(1);
  acks.expect(['s1', 's2']); // one fits beside 'a'
  expect(acks.size).toBe(2);
  expect([acks.takeOne('s2'), acks.takeOne('a'), acks.takeOne('a'), acks.takeOne('s1')]).toEqual([false, 'sport', false, true]);
  // Pushed and acknowledged in turn, then two at once: the one that waited alone is the oldest.
  for (const id of ['b', 'c', 'd']) {
    acks.pushed(id);
    expect(acks.takeOne(id)).toBe(true);
  }
  expect([acks.pushed('e', 'news'), acks.pushed('f'), acks.pushed('g')]).toEqual([0, 0, 1]);
  expect(acks.take(['e', 'f', 'g'])).toEqual({ known: ['f', 'g'], unknown: 1, repeated: 0 });
  expect(acks.size).toBe(0);
});
