/**
 * The gateway's record of changed messages (message-changes.ts): what a push holding some version
 * of a message sends instead. Pure bookkeeping: the flow with real processes is in
 * tools/dev/test/message-changes.spec.ts.
 */
import { decodeMessage, encodeMessage, parseControlNote, recallControlNote, updateControlNote, type EncodedMessage } from '@herald/redis';
import { MessageChanges } from '../src/delivery/message-changes';

const encoded = (id: string, payload: unknown) =>
  encodeMessage({ id, category: null, payload, createdAt: new Date().toISOString(), expiresAt: Date.now() + 60_000 });
const version = (id: string, payload: unknown): EncodedMessage => decodeMessage(encoded(id, payload))!;
/** The control note of an update of message `id` to `payload`, version `v`. */
const update = (id: string, payload: unknown, v: number) =>
  parseControlNote(Buffer.from(updateControlNote('t', id, v, '{"type":"update"}', encoded(id, payload))))!;

it('pushes a message unchanged until a change names it', () => {
  const changes = new MessageChanges(10);
  const m = version('m1', 1);
  expect(changes.current(m)).toBe(m);
  changes.apply(update('other', 2, 2));
  expect(changes.current(m)).toBe(m);
});

it('pushes the newest version instead of an older one, whichever order the updates came in', () => {
  const changes = new MessageChanges(10);
  const old = version('m2', 'v1');
  changes.apply(update('m2', 'v3', 3));
  changes.apply(update('m2', 'v2', 2));
  expect(JSON.parse(changes.current(old)!.frame.toString())).toMatchObject({ payload: 'v3' });
});

it('pushes nothing of a recalled message, even after a later update note', () => {
  const changes = new MessageChanges(10);
  const m = version('m3', 'x');
  changes.apply(parseControlNote(Buffer.from(recallControlNote('t', 'm3')))!);
  expect(changes.current(m)).toBeNull();
  changes.apply(update('m3', 'y', 9));
  expect(changes.current(m)).toBeNull();
});

it('remembers at most its bound, the least recently used going first', () => {
  const changes = new MessageChanges(2);
  for (const id of ['a', 'b', 'c']) changes.apply(parseControlNote(Buffer.from(recallControlNote('t', id)))!);
  expect(changes.current(version('a', 0))).not.toBeNull();
  expect(changes.current(version('c', 0))).toBeNull();
});
