/** SparePool: buffers given back are taken again, the largest kept, all let go once idle. */
import { SparePool } from '../src/spare-pool';

afterEach(() => jest.useRealTimers());

it('makes buffers in powers of two from minBytes', () => {
  const pool = new SparePool({ keep: 4, minBytes: 1024 });
  expect(pool.take(1).length).toBe(1024);
  expect(pool.take(1024).length).toBe(1024);
  expect(pool.take(1025).length).toBe(2048);
  expect(pool.take(100_000).length).toBe(131_072);
  expect(new SparePool({ keep: 1 }).take(10).length).toBe(4096);
  // Past maxBytes it would not be kept: made to size.
  expect(new SparePool({ keep: 1, maxBytes: 8192 }).take(8193).length).toBe(8193);
  expect(new SparePool({ keep: 1, maxBytes: 8192 }).take(5000).length).toBe(8192);
});

it('gives a buffer given back to a later take that fits, the smallest that does, each once', () => {
  const pool = new SparePool({ keep: 4, minBytes: 1024 });
  const [small, middle, large] = [pool.take(1024), pool.take(4096), pool.take(16_384)];
  for (const buffer of [large, small, middle]) pool.giveBack(buffer);
  expect(pool.size).toBe(3);
  expect(pool.take(2000)).toBe(middle);
  expect(pool.take(2000)).toBe(large);
  // None left that fits: a new one, and the small one stays.
  const fresh = pool.take(2000);
  expect([small, middle, large]).not.toContain(fresh);
  expect(pool.size).toBe(1);
  expect(pool.take(10)).toBe(small);
});

it('keeps at most `keep`, the largest, and none above maxBytes', () => {
  const pool = new SparePool({ keep: 2, minBytes: 1024, maxBytes: 8192 });
  const [a, b, c, d] = [1024, 2048, 4096, 16_384].map((n) => pool.take(n));
  for (const buffer of [b, a, c, d]) pool.giveBack(buffer);
  // a (the smallest) made room for c; d is above maxBytes.
  expect(pool.size).toBe(2);
  expect(pool.take(1)).toBe(b);
  expect(pool.take(1)).toBe(c);
  expect(new SparePool({ keep: 0 }).size).toBe(0);
  const none = new SparePool({ keep: 0 });
  none.giveBack(a);
  expect(none.size).toBe(0);
});

it('lets every spare go once none has been taken or given back for idleMs, not before', () => {
  jest.useFakeTimers();
  const pool = new SparePool({ keep: 4, idleMs: 1000 });
  const [a, b] = [pool.take(10), pool.take(10)];
  pool.giveBack(a);
  jest.advanceTimersByTime(600);
  // Used again: the idle time starts over.
  pool.giveBack(b);
  jest.advanceTimersByTime(600);
  expect(pool.size).toBe(2);
  jest.advanceTimersByTime(400);
  expect(pool.size).toBe(0);
  // Kept again after that, and let go again.
  pool.giveBack(a);
  expect(pool.size).toBe(1);
  jest.advanceTimersByTime(1000);
  expect(pool.size).toBe(0);
});

it('without idleMs keeps its spares; clear() lets them go', () => {
  jest.useFakeTimers();
  const pool = new SparePool({ keep: 1 });
  pool.giveBack(pool.take(10));
  jest.advanceTimersByTime(3_600_000);
  expect(pool.size).toBe(1);
  pool.clear();
  expect(pool.size).toBe(0);
});
