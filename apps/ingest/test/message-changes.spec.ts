/**
 * PATCH and DELETE /v1/messages/{id} against a real redis-server, with a stand-in gateway that
 * listens to the control channel and confirms each note as a gateway does: the new body and
 * record, the recall's removals from offline lists and a category's log, the control notes, and
 * every refusal writing nothing. With real gateways: tools/dev/test/message-changes.spec.ts.
 */
import Redis from 'ioredis';
import {
  closeRedis,
  controlDoneNote,
  createRedis,
  decodeMessage,
  fireScheduled,
  keys,
  MessageRecalledError,
  newMessage,
  parseControlNote,
  readRecord,
  sendToUsers,
} from '@herald/redis';
import { signToken, waitFor } from '@herald/testing';
import { Scope, type MessageFrame } from '@herald/types';
import { bearer, expectNoWrites, expectRefusal, sharedIngest } from './harness';

const stack = sharedIngest();

let other: string;
let admin: string;
let listener: Redis;
let confirmer: Redis;
const notes: Buffer[] = [];

beforeAll(async () => {
  other = await signToken('producer-other', { scope: Scope.MESSAGES_WRITE });
  admin = await signToken('ops', { scope: `${Scope.MESSAGES_WRITE} ${Scope.MESSAGES_ADMIN}` });
  listener = new Redis(stack.server.url);
  confirmer = new Redis(stack.server.url);
  listener.on('smessageBuffer', (_channel: Buffer, raw: Buffer) => {
    notes.push(raw);
    void confirmer.spublish(keys.controlDoneChannel, controlDoneNote(parseControlNote(raw)!.token, 'stand-in'));
  });
  await listener.ssubscribe(keys.controlChannel);
});
afterAll(() => {
  listener.disconnect();
  confirmer.disconnect();
});

async function send(body: object, token = stack.tokens.messages): Promise<string> {
  const res = await stack.ingest.app.inject({ method: 'POST', url: '/v1/messages', headers: bearer(token), payload: body });
  expect(res.statusCode).toBe(202);
  return (res.json() as { id: string }).id;
}

const patch = (id: string, payload: object, token = stack.tokens.messages) =>
  stack.ingest.app.inject({ method: 'PATCH', url: `/v1/messages/${id}`, headers: bearer(token), payload });
const recall = (id: string, token = stack.tokens.messages) =>
  stack.ingest.app.inject({ method: 'DELETE', url: `/v1/messages/${id}`, headers: bearer(token) });

const bodyOf = async (id: string) => {
  const raw = await stack.redis.get(keys.message(id));
  return raw === null ? null : (JSON.parse(decodeMessage(raw)!.frame.toString()) as MessageFrame);
};

describe('update', () => {
  it('stores the new payload under the same id, bumps the version and tells the gateways', async () => {
    const id = await send({ userIds: ['up-a'], payload: { n: 1 }, ttlSeconds: 600 });
    const before = await readRecord(stack.redis as never, id);
    const seen = notes.length;

    const res = await patch(id, { payload: { n: 2 } });
    expect(res.statusCode).toBe(200);
    const answer = res.json() as { version: number; updatedAt: string; expiresAt: string; gateways: object };
    expect(answer).toMatchObject({ id, version: 2, gateways: { notified: 1, confirmed: 1 } });
    expect(Date.parse(answer.expiresAt)).toBe(before!.expiresAt);

    const frame = await bodyOf(id);
    expect(frame).toMatchObject({ type: 'message', id, payload: { n: 2 }, updatedAt: answer.updatedAt });
    expect(Object.keys(frame!).at(-1)).toBe('createdAt');
    expect(Date.parse(frame!.createdAt)).toBe(before!.createdAt);
    expect(await stack.redis.lrange(keys.inbox('up-a'), 0, -1)).toEqual([id]);
    expect(await readRecord(stack.redis as never, id)).toMatchObject({ version: 2, updatedAt: Date.parse(answer.updatedAt) });

    await waitFor(() => notes.length > seen, { what: 'the control note' });
    const note = parseControlNote(notes[seen]);
    expect(note).toMatchObject({ kind: 'update', id, version: 2 });
    expect(JSON.parse((note as { frame: Buffer }).frame.toString())).toEqual({ type: 'update', id, payload: { n: 2 }, updatedAt: answer.updatedAt });
  });

  it('keeps the replace key in the new version\'s frame', async () => {
    const id = await send({ userIds: ['up-rk'], payload: 1, replaceKey: 'comments' });
    expect((await patch(id, { payload: 2 })).statusCode).toBe(200);
    expect(await bodyOf(id)).toMatchObject({ payload: 2, replaceKey: 'comments' });
  });

  it('counts a new ttlSeconds from the message\'s createdAt', async () => {
    const id = await send({ userIds: ['up-ttl'], payload: 1, ttlSeconds: 60 });
    const res = await patch(id, { payload: 2, ttlSeconds: 3600 });
    expect(res.statusCode).toBe(200);
    const record = await readRecord(stack.redis as never, id);
    expect(record!.expiresAt).toBe(record!.createdAt! + 3600_000);
    expect(await stack.redis.pttl(keys.message(id))).toBeGreaterThan(60_000);
  });

  it('refuses, writing nothing: unknown id, another producer\'s message, a category message lengthened, a bad body', async () => {
    const id = await send({ userIds: ['up-refused'], payload: 1 });
    const cat = await send({ category: 'up-news', payload: 1, ttlSeconds: 60 });
    await expectNoWrites(stack.redis, async () => {
      expectRefusal(await patch('no-such-message', { payload: 1 }), 404, 'MESSAGE_NOT_FOUND');
      expectRefusal(await patch(id, { payload: 2 }, other), 403, 'NOT_MESSAGE_OWNER');
      expectRefusal(await patch(id, { payload: 2 }, stack.tokens.categories), 403, 'FORBIDDEN');
      expectRefusal(await patch(cat, { payload: 2, ttlSeconds: 3600 }), 400, 'INVALID_BODY');
      expectRefusal(await patch(id, { nopayload: 2 }), 400, 'INVALID_BODY');
    });
    expect((await patch(id, { payload: 'by admin' }, admin)).statusCode).toBe(200);
    expect(await bodyOf(id)).toMatchObject({ payload: 'by admin' });
  });
});

describe('recall', () => {
  it('removes the id from every recipient\'s offline list and deletes the body; a repeat answers the same', async () => {
    const users = ['rc-a', 'rc-b', 'rc-c'];
    const keep = await send({ userIds: users, payload: 'keep' });
    const id = await send({ userIds: users, payload: 'oops' });
    const seen = notes.length;

    const res = await recall(id);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ id, state: 'recalled', removed: 3, gateways: { notified: 1, confirmed: 1 } });
    for (const u of users) expect(await stack.redis.lrange(keys.inbox(u), 0, -1)).toEqual([keep]);
    expect(await stack.redis.exists(keys.message(id))).toBe(0);
    expect(await readRecord(stack.redis as never, id)).toMatchObject({ state: 'recalled' });
    await waitFor(() => notes.length > seen, { what: 'the control note' });
    expect(parseControlNote(notes[seen])).toMatchObject({ kind: 'recall', id });

    expect((await recall(id)).json()).toMatchObject({ id, state: 'recalled', removed: 0 });
    expectRefusal(await patch(id, { payload: 'too late' }), 409, 'MESSAGE_STATE_CONFLICT');
  });

  it('cancels a scheduled message: its job goes, its state is recalled, and an update is refused', async () => {
    const sendAt = new Date(Date.now() + 3600_000).toISOString();
    const id = await send({ userIds: ['rc-later'], payload: 'later', sendAt });
    expect(await stack.scheduledQueue().getJob(id)).toBeDefined();

    expect((await recall(id)).json()).toEqual({ id, state: 'recalled', removed: 0, gateways: { notified: 0, confirmed: 0 } });
    expect(await stack.scheduledQueue().getJob(id)).toBeUndefined();
    expect(await readRecord(stack.redis as never, id)).toMatchObject({ state: 'recalled' });
    expectRefusal(await patch(id, { payload: 'changed' }), 409, 'MESSAGE_STATE_CONFLICT');
  });

  it('recalls a scheduled message whose send is under way: its send stores nothing after the answer', async () => {
    const sendAt = new Date(Date.now() + 3600_000).toISOString();
    const id = await send({ userIds: ['rc-firing'], payload: 'firing', sendAt });
    // What a worker does when the job fires (the harness runs no worker): scheduled → sending, then the send.
    const worker = createRedis({ REDIS_URL: stack.server.url, REDIS_CLUSTER_NODES: undefined }, 'commands', 'worker-like');
    try {
      expect(await fireScheduled(worker, id)).toHaveProperty('send');
      expect((await recall(id)).json()).toMatchObject({ id, state: 'recalled', removed: 0 });
      const message = newMessage({ payload: 'firing', ttlMs: 60_000, id });
      await expect(sendToUsers(worker, message, ['rc-firing'], { cap: 10, inboxTtlSeconds: 60 })).rejects.toBeInstanceOf(MessageRecalledError);
      expect(await stack.redis.exists(keys.message(id))).toBe(0);
    } finally {
      await closeRedis(worker);
    }
  });

  it('removes a category message\'s entry from its log', async () => {
    const keep = await send({ category: 'rc-news', payload: 'keep' });
    const id = await send({ category: 'rc-news', payload: 'oops' });
    expect((await recall(id)).json()).toMatchObject({ removed: 1 });
    const log = (await stack.redis.xrange(keys.categoryLog('rc-news'), '-', '+')) as [string, string[]][];
    expect(log.map(([, fields]) => fields[1])).toEqual([keep]);
  });

  it('refuses, writing nothing: unknown id, another producer\'s message, no scope', async () => {
    const id = await send({ userIds: ['rc-refused'], payload: 1 });
    await expectNoWrites(stack.redis, async () => {
      expectRefusal(await recall('no-such-message'), 404, 'MESSAGE_NOT_FOUND');
      expectRefusal(await recall(id, other), 403, 'NOT_MESSAGE_OWNER');
      expectRefusal(await recall(id, stack.tokens.user), 403, 'FORBIDDEN');
      expectRefusal(await recall('bad id!'), 400, 'BAD_REQUEST');
    });
    expect((await recall(id, admin)).statusCode).toBe(200);
  });
});
