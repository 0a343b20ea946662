/** RespWriter (bulk strings in one growing buffer) and SpareBuffer (one command site's spare). */
import { RespWriter, SpareBuffer } from '../src/resp-writer';

it('writes bulk strings in RESP, byte lengths for any text, across growth', () => {
  const spares = new SpareBuffer();
  const w = new RespWriter(spares, 16);
  // Lengths on every side of a change in digit count (0, 9, 10, 99, 100, 999, 1000, 10,000).
  const lengths = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 1001, 9999, 10_000, 100_000];
  const texts = ['a', '', 'zoë', '用户', '🎉', 'x'.repeat(10_000), ...lengths.map((n) => 'y'.repeat(n))];
  for (const text of texts) w.string(text);
  expect(w.count).toBe(texts.length);
  expect(w.buffer.subarray(0, w.at).toString()).toBe(texts.map((t) => `$${Buffer.byteLength(t)}\r\n${t}\r\n`).join(''));
});

it('keeps the largest buffer given back for the next command of its own site only', () => {
  const [log, positions] = [new SpareBuffer(), new SpareBuffer()];
  const large = log.take(1 << 20);
  const small = log.take(1 << 12);
  log.giveBack(small);
  log.giveBack(large);
  // Another site never takes this site's spare.
  expect(positions.take(1 << 12)).not.toBe(large);
  expect(log.take(1 << 12)).toBe(large);
  // Taken: the next command gets a new one until it comes back.
  expect(log.take(1 << 12)).not.toBe(large);
  // A writer starts with its site's spare, and gives back what it ends with.
  positions.giveBack(small);
  const w = new RespWriter(positions, 1);
  expect(w.buffer).toBe(small);
  w.string('y'.repeat(1 << 13));
  const grown = w.buffer;
  w.release();
  expect(positions.take(1)).toBe(grown);
});
