/**
 * A session's budget for what its client sends (frame-budget.ts); abuse.spec.ts and
 * user-events.spec.ts show the same limits through real sockets.
 */
import { FrameBudget } from '../src/frames/frame-budget';

const LIMITS = { maxFramesPerSecond: 3, maxEventsPerSecond: 5, maxFrameErrors: 2, maxIgnoredAckIds: 4 };

it('lets the second’s frames through up to the limit, and again after reset()', () => {
  const budget = new FrameBudget(LIMITS);
  expect([budget.frame(), budget.frame(), budget.frame(), budget.frame()]).toEqual([true, true, true, false]);
  budget.reset();
  expect(budget.frame()).toBe(true);
});

it('takes event ids up to the second’s room, none past it, and all again after reset()', () => {
  const budget = new FrameBudget(LIMITS);
  expect([budget.takeEvents(3), budget.takeEvents(3), budget.takeEvents(1)]).toEqual([3, 2, 0]);
  budget.reset();
  expect(budget.takeEvents(7)).toBe(5);
});

it('counts error frames and ignored ack ids over the session’s life: reset() does not forgive them', () => {
  const budget = new FrameBudget(LIMITS);
  expect([budget.error(), budget.error()]).toEqual([true, true]);
  budget.reset();
  expect(budget.error()).toBe(false);
  expect(budget.ignoreAcks(4, 0)).toBe(true);
  budget.reset();
  expect(budget.ignoreAcks(1, 0)).toBe(false);
});

it('allows one more ignored ack id per id the session forgot unacknowledged', () => {
  const budget = new FrameBudget(LIMITS);
  expect(budget.ignoreAcks(6, 2)).toBe(true);
  expect(budget.ignoreAcks(1, 2)).toBe(false);
});
