/** RespWriter (bulk strings in one growing buffer) with a command site's spares. */
import { keyAround, keys } from '../src/keys';
import { RespWriter, sparesOfOneSite } from '../src/resp-writer';

it('writes bulk strings in RESP, byte lengths for any text, across growth', () => {
  const spares = sparesOfOneSite();
  const w = new RespWriter(spares, 16);
  // Lengths on every side of a change in digit count (0, 9, 10, 99, 100, 999, 1000, 10,000).
  const lengths = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 1001, 9999, 10_000, 100_000];
  // Texts whose byte count has more digits than their length (the text is written first and moved).
  const wider = ['é'.repeat(5), 'é'.repeat(50), '€'.repeat(4), '用'.repeat(334), '🎉'.repeat(3), `${'é'.repeat(3)}abc`];
  // Short texts are copied while they are ASCII: one that stops being ASCII part-way, at and past the bound (64).
  const partAscii = ['abcé', `${'x'.repeat(63)}é`, `${'x'.repeat(64)}é`, `${'x'.repeat(62)}🎉`, 'x'.repeat(64), 'x'.repeat(65), '\u007f\u0080'];
  const texts = ['a', '', 'zoë', '用户', '🎉', 'x'.repeat(10_000), ...lengths.map((n) => 'y'.repeat(n)), ...wider, ...partAscii, ...lengths.map((n) => '€'.repeat(n))];
  for (const text of texts) w.string(text);
  expect(w.count).toBe(texts.length);
  expect(w.buffer.subarray(0, w.at).toString()).toBe(texts.map((t) => `$${Buffer.byteLength(t)}\r\n${t}\r\n`).join(''));
});

it('writes a key around its argument as the key itself, the text in any script, across growth', () => {
  const w = new RespWriter(sparesOfOneSite(), 16);
  const [before, after] = keyAround(keys.categoryPositions);
  // Ids whose key's byte count has more digits than its length (moved), or not, and long ones.
  const ids = ['u1', 'zoë', '用户', '🎉', '', 'é'.repeat(1), 'é'.repeat(3), '€'.repeat(30), 'x'.repeat(5000), 'é'.repeat(90)];
  for (const id of ids) {
    w.stringAround(before, id, after);
    w.string(id);
  }
  expect(w.count).toBe(ids.length * 2);
  const key = (id: string) => keys.categoryPositions(id);
  expect(w.buffer.subarray(0, w.at).toString()).toBe(ids.map((id) => `$${Buffer.byteLength(key(id))}\r\n${key(id)}\r\n$${Buffer.byteLength(id)}\r\n${id}\r\n`).join(''));
});

it("finds a key's text around its argument, and refuses a key that holds it other than once or is not ASCII around it", () => {
  expect(keyAround(keys.categoryPositions)).toEqual(['{u:', '}:catpos']);
  expect(keyAround(keys.userCategories)).toEqual(['{u:', '}:cats']);
  expect(() => keyAround(() => 'fixed')).toThrow(/exactly once/);
  expect(() => keyAround((id) => `${id}:${id}`)).toThrow(/exactly once/);
  expect(() => keyAround((id) => `café:${id}`)).toThrow(/printable ASCII/);
});

it('makes room for the widest UTF-8 before writing: a text near the end of the buffer is never cut', () => {
  const w = new RespWriter(sparesOfOneSite(), 16);
  expect(w.buffer.length).toBe(4096);
  // 4,046 bytes written: 50 left, more than 20 characters need if each were one byte, less than the 60 they take.
  const first = 'y'.repeat(4037);
  w.string(first);
  expect(w.at).toBe(4046);
  w.string('€'.repeat(20));
  expect(w.buffer.subarray(0, w.at).toString()).toBe(`$4037\r\n${first}\r\n$60\r\n${'€'.repeat(20)}\r\n`);
});

it('keeps the largest buffer given back for the next command of its own site only', () => {
  const [log, positions] = [sparesOfOneSite(), sparesOfOneSite()];
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
