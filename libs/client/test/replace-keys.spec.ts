/** Which message a delivered one replaces, from its `replaces` or from its replace key (replace-keys.ts). */
import type { MessageFrame } from '@herald/types';
import { ReplaceKeys } from '../src/replace-keys';

const frame = (id: string, extra: Partial<MessageFrame> = {}): MessageFrame => ({
  type: 'message',
  id,
  category: null,
  payload: null,
  createdAt: new Date(0).toISOString(),
  ...extra,
});

it('takes a live frame at its word, and infers a drained one from the last id with its key', () => {
  const keys = new ReplaceKeys(10);
  expect(keys.replaced(frame('a', { replaceKey: 'k' }))).toBeUndefined();
  expect(keys.replaced(frame('b', { replaceKey: 'k', replaces: 'a' }))).toBe('a');
  // Drained: no `replaces`, the key says it.
  expect(keys.replaced(frame('c', { replaceKey: 'k' }))).toBe('b');
  expect(keys.replaced(frame('c', { replaceKey: 'k' }))).toBeUndefined(); // itself again
  expect(keys.replaced(frame('d', { replaceKey: 'other' }))).toBeUndefined();
  expect(keys.replaced(frame('e'))).toBeUndefined();
  expect(keys.replaced(frame('f', { replaces: 'x' }))).toBe('x');
});

it('forgets the least recently used key past its capacity', () => {
  const keys = new ReplaceKeys(2);
  keys.replaced(frame('a', { replaceKey: 'k1' }));
  keys.replaced(frame('b', { replaceKey: 'k2' }));
  keys.replaced(frame('c', { replaceKey: 'k1' })); // k1 used again: k2 is the oldest
  keys.replaced(frame('d', { replaceKey: 'k3' }));
  expect(keys.replaced(frame('e', { replaceKey: 'k1' }))).toBe('c');
  expect(keys.replaced(frame('f', { replaceKey: 'k2' }))).toBeUndefined();
});
