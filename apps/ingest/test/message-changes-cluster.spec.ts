/**
 * Update and recall on a real 3-master Redis Cluster: the record and body on the message's slot,
 * the recipients' offline lists on many slots and nodes, and the control channel reaching a
 * sharded subscriber (the connection kind every gateway listens with) that confirms each change.
 */
import { closeRedis, controlDoneNote, createRedis, keys, parseControlNote, readRecord, type HeraldRedis } from '@herald/redis';
import { startRedisCluster, type RedisCluster } from '@herald/testing';
import type { Ingest } from '../src/app';
import { bearer, ingestConfig, makeTokens, startIngest, type Tokens } from './harness';

let cluster: RedisCluster;
let redis: HeraldRedis;
let gatewayLike: HeraldRedis;
let ingest: Ingest;
let tokens: Tokens;
const notes: Buffer[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster();
  const config = ingestConfig('redis://127.0.0.1:1', { REDIS_CLUSTER_NODES: cluster.nodesEnv });
  redis = createRedis(config, 'commands', 'changes-cluster-test');
  gatewayLike = createRedis(config, 'subscriber', 'changes-cluster-gateway');
  gatewayLike.on('smessageBuffer', (_channel: Buffer, raw: Buffer) => {
    notes.push(raw);
    void redis.spublish(keys.controlDoneChannel, controlDoneNote(parseControlNote(raw)!.token, 'stand-in'));
  });
  await new Promise((resolve) => gatewayLike.once('ready', resolve));
  await gatewayLike.ssubscribe(keys.controlChannel);
  ingest = await startIngest(config);
  tokens = await makeTokens();
}, 60_000);

afterAll(async () => {
  await ingest?.close();
  for (const c of [redis, gatewayLike]) if (c) await closeRedis(c);
  await cluster?.stop();
}, 30_000);

const users = Array.from({ length: 30 }, (_, i) => `cluster-change-${i}`);

async function send(payload: unknown): Promise<string> {
  const res = await ingest.app.inject({ method: 'POST', url: '/v1/messages', headers: bearer(tokens.messages), payload: { userIds: users, payload } });
  expect(res.statusCode).toBe(202);
  return (res.json() as { id: string }).id;
}

it('updates and recalls across nodes, each change confirmed by the sharded subscriber before the answer', async () => {
  const keep = await send('keep');
  const id = await send('oops');

  const updated = await ingest.app.inject({ method: 'PATCH', url: `/v1/messages/${id}`, headers: bearer(tokens.messages), payload: { payload: 'fixed' } });
  expect(updated.json()).toMatchObject({ version: 2, gateways: { notified: 1, confirmed: 1 } });
  expect(parseControlNote(notes[0])).toMatchObject({ kind: 'update', id, version: 2 });
  expect(await redis.get(keys.message(id))).toContain('"payload":"fixed"');

  const recalled = await ingest.app.inject({ method: 'DELETE', url: `/v1/messages/${id}`, headers: bearer(tokens.messages) });
  expect(recalled.json()).toEqual({ id, state: 'recalled', removed: users.length, gateways: { notified: 1, confirmed: 1 } });
  expect(parseControlNote(notes[1])).toMatchObject({ kind: 'recall', id });
  const inboxes = await Promise.all(users.map((u) => redis.lrange(keys.inbox(u), 0, -1)));
  expect(inboxes).toEqual(users.map(() => [keep]));
  expect(await readRecord(redis, id)).toMatchObject({ state: 'recalled' });
});
