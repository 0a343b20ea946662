/**
 * Which notification a message to many users travels as: inline while all its copies stay small,
 * a reference past that, so that no request within the limits can push a gateway's subscriber
 * past Redis's default pub/sub output-buffer limits. The costs are measured against the bytes a
 * real redis-server writes to a subscriber.
 */
import { connect } from 'node:net';
import { loadIngestConfig, MAX_RECIPIENTS_LIMIT } from '@herald/config';
import { startRedisServer, TEST_JWT_SECRET, waitFor } from '@herald/testing';
import {
  INLINE_NOTES_MAX_BYTES,
  liveNote,
  liveNotes,
  messageNote,
  NOTE_ENVELOPE_BYTES,
  PUBSUB_SOFT_LIMIT_BYTES,
  REF_NOTE_BYTES,
  REPLACING_REF_NOTE_BYTES,
  refNote,
  encodeMessage,
  keys,
  closeRedis,
  createRedis,
} from '../src';

const ID = '6f1c2a4e-8a7b-4c3d-9e0f-112233445566';
const AT = Date.UTC(2026, 0, 1);
const encoded = (payloadBytes: number) =>
  encodeMessage({ id: ID, category: null, payload: 'x'.repeat(payloadBytes), createdAt: new Date(AT).toISOString(), expiresAt: AT + 60_000 });

it('sends the body inline while all copies fit INLINE_NOTES_MAX_BYTES, a reference past it', () => {
  expect(liveNote(encoded(1000), ID, 1)).toBe(messageNote(encoded(1000)));
  expect(liveNote(encoded(1000), ID, 500)).toBe(messageNote(encoded(1000)));
  expect(liveNote(encoded(1000), ID, 1000)).toBe(refNote(ID));
  expect(liveNote(encoded(250_000), ID, 4)).toBe(messageNote(encoded(250_000)));
  expect(liveNote(encoded(250_000), ID, 5)).toBe(refNote(ID));
  expect(liveNote(encoded(2 * INLINE_NOTES_MAX_BYTES), ID, 1)).toBe(refNote(ID));
});

it('keeps the largest request under the pub/sub soft limit, and MAX_RECIPIENTS within it', () => {
  expect(REF_NOTE_BYTES).toBe(Buffer.byteLength(refNote(ID)) + NOTE_ENVELOPE_BYTES);
  expect(MAX_RECIPIENTS_LIMIT * REF_NOTE_BYTES).toBeLessThanOrEqual(PUBSUB_SOFT_LIMIT_BYTES);
  // A message with a replace key: deliver-4.lua may put `x<old id>|` before each note.
  expect(REPLACING_REF_NOTE_BYTES).toBe(Buffer.byteLength(`x${ID}|${refNote(ID)}`) + NOTE_ENVELOPE_BYTES);
  expect(MAX_RECIPIENTS_LIMIT * REPLACING_REF_NOTE_BYTES).toBeLessThanOrEqual(PUBSUB_SOFT_LIMIT_BYTES);
  expect(liveNote(encoded(1000), ID, 760)).toBe(messageNote(encoded(1000)));
  expect(liveNotes()(encoded(1000), ID, 760, true)).toBe(refNote(ID));
  expect(INLINE_NOTES_MAX_BYTES).toBeLessThanOrEqual(PUBSUB_SOFT_LIMIT_BYTES);
  const env = { AUTH_JWT_SECRET: TEST_JWT_SECRET };
  expect(loadIngestConfig({ ...env, MAX_RECIPIENTS: String(MAX_RECIPIENTS_LIMIT) }).MAX_RECIPIENTS).toBe(MAX_RECIPIENTS_LIMIT);
  expect(() => loadIngestConfig({ ...env, MAX_RECIPIENTS: String(MAX_RECIPIENTS_LIMIT + 1) })).toThrow(/MAX_RECIPIENTS/);
});

it("counts, as a note's envelope, at least what Redis writes around it for the longest user id", async () => {
  const server = await startRedisServer();
  const redis = createRedis({ REDIS_URL: server.url, REDIS_CLUSTER_NODES: undefined }, 'commands', 'envelope-test');
  const socket = connect(server.port, '127.0.0.1');
  try {
    const channel = keys.userChannel('u'.repeat(128));
    let bytes = 0;
    socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
    socket.write(`SSUBSCRIBE ${channel}\r\n`);
    await waitFor(() => bytes > 0, { what: 'the subscribe reply' });
    const subscribed = bytes;
    await redis.spublish(channel, refNote(ID));
    await waitFor(() => bytes > subscribed, { what: 'the notification' });
    expect(bytes - subscribed).toBeLessThanOrEqual(REF_NOTE_BYTES);
  } finally {
    socket.destroy();
    await closeRedis(redis);
    await server.stop();
  }
});
