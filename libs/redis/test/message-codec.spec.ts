/**
 * encodeMessage writes the frame's JSON member by member: it must be exactly what JSON.stringify of
 * the frame object gives (the form every earlier body in Redis has, and what clients parse), for
 * every shape a message takes.
 */
import type { Message } from '@herald/types';
import { decodeMessage, encodeMessage, newMessage } from '../src';

/** The encoding as it was: JSON.stringify of the frame literal, optional members spread in. */
function reference(message: Message): string {
  const frame = {
    type: 'message',
    id: message.id,
    category: message.category,
    ...(message.replaceKey ? { replaceKey: message.replaceKey } : {}),
    payload: message.payload,
    ...(message.updatedAt === undefined ? {} : { updatedAt: message.updatedAt }),
    createdAt: message.createdAt,
  };
  return `${message.expiresAt}|${message.id}|${message.category ?? ''}|${JSON.stringify(frame)}`;
}

const AT = Date.UTC(2026, 11, 6, 9, 30);
const base: Message = { id: '6f1c2a4e-8a7b-4c3d-9e0f-112233445566', category: null, payload: { t: 1 }, createdAt: new Date(AT).toISOString(), expiresAt: AT + 60_000 };

const cases: Array<[string, Message]> = [
  ['to users', base],
  ['to a category', { ...base, category: 'news.eu' }],
  ['with a replace key', { ...base, replaceKey: 'score:42' }],
  ['with an empty replace key (none)', { ...base, replaceKey: '' }],
  ['updated', { ...base, updatedAt: new Date(AT + 5000).toISOString() }],
  ['every optional member', { ...base, category: 'c', replaceKey: 'k', updatedAt: new Date(AT + 1).toISOString() }],
  ['a string payload with quotes, controls and non-ASCII', { ...base, payload: 'a "b"\n\t\\ é ✓ 😀 \u2028 \u0000' }],
  ['a number payload', { ...base, payload: 12.5 }],
  ['a null payload', { ...base, payload: null }],
  ['an array payload', { ...base, payload: [1, 'two', { three: [3] }, null, true] }],
  ['a nested object with odd keys', { ...base, payload: { 'a"b': { '': 1, é: [{}] }, n: -0, big: 1e21 } }],
  ['an undefined payload (left out, as JSON.stringify does)', { ...base, payload: undefined }],
  ['a replace key needing escapes', { ...base, replaceKey: 'k"\\' }],
];

describe('encodeMessage', () => {
  it.each(cases)('%s: the same text as JSON.stringify of the frame', (_name, message) => {
    expect(encodeMessage(message)).toBe(reference(message));
  });

  it('a message newMessage made, with and without a replace key, decodes to its frame', () => {
    for (const replaceKey of [undefined, 'rk']) {
      const message = newMessage({ payload: { s: 'x' }, ttlMs: 1000, category: 'cat', replaceKey });
      const encoded = encodeMessage(message);
      expect(encoded).toBe(reference(message));
      const decoded = decodeMessage(encoded);
      expect(decoded?.id).toBe(message.id);
      expect(JSON.parse(decoded!.frame.toString())).toEqual({ type: 'message', id: message.id, category: 'cat', ...(replaceKey ? { replaceKey } : {}), payload: { s: 'x' }, createdAt: message.createdAt });
    }
  });
});
