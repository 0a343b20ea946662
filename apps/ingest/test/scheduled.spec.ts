/**
 * Scheduled sends end to end on a real redis-server with real BullMQ workers in ingest instances:
 * sent at (not before) sendAt with its TTL from then, GET showing scheduled then sent; a job that
 * outlives the ingest that accepted it; two replicas sending each message once; a recalled
 * message never sent. Messages are accepted by the shared ingest, which runs no worker, so only
 * the instances each test starts send.
 */
import { decodeMessage, keys } from '@herald/redis';
import { waitFor } from '@herald/testing';
import type { MessageFrame } from '@herald/types';
import type { Ingest } from '../src/app';
import { bearer, counterValue, ingestConfig, sharedIngest, startIngest } from './harness';

const stack = sharedIngest();

/** An ingest that runs scheduled sends. */
const startWorker = () => startIngest(ingestConfig(stack.server.url, { SCHEDULE_WORKER: 'true' }));

/** Schedule `inMs` from now through `via` (the shared ingest: no worker); the id and the sendAt (epoch ms). */
async function schedule(body: object, inMs: number, via: Ingest = stack.ingest): Promise<{ id: string; sendAt: number }> {
  const sendAt = Date.now() + inMs;
  const res = await via.app.inject({
    method: 'POST',
    url: '/v1/messages',
    headers: bearer(stack.tokens.messages),
    payload: { ...body, sendAt: new Date(sendAt).toISOString() },
  });
  expect(res.statusCode).toBe(202);
  return { id: (res.json() as { id: string }).id, sendAt };
}

async function status(id: string): Promise<Record<string, unknown>> {
  const res = await stack.ingest.app.inject({ method: 'GET', url: `/v1/messages/${id}`, headers: bearer(stack.tokens.messages) });
  expect(res.statusCode).toBe(200);
  return res.json() as Record<string, unknown>;
}

const recordState = (id: string) => stack.redis.hget(keys.messageRecord(id), 'state');
const untilSent = (id: string) => waitFor(async () => (await recordState(id)) === 'sent', { what: `message ${id} sent` });
const scheduledMetric = async (ingest: Ingest, outcome: string) =>
  counterValue((await ingest.app.inject({ method: 'GET', url: '/metrics' })).body, 'herald_scheduled_total', `outcome="${outcome}"`);
/**
 * Waits until the instances' `sent` counters add up to `count`, and returns each. A record reads
 * `sent` as soon as the send's script ran; the counter moves after the `sent` event is appended.
 */
async function sentCounts(instances: Ingest[], count: number): Promise<number[]> {
  let counts: number[] = [];
  await waitFor(
    async () => (counts = await Promise.all(instances.map((i) => scheduledMetric(i, 'sent')))).reduce((a, b) => a + b, 0) >= count,
    { what: `${count} scheduled sends counted` },
  );
  return counts;
}

describe('with a worker running', () => {
  let worker: Ingest;
  beforeAll(async () => {
    worker = await startWorker();
  });
  afterAll(() => worker?.close());

  it('sends at sendAt, exactly as an immediate message, its TTL counted from then; GET shows scheduled, then sent', async () => {
    const direct = await schedule({ userIds: ['at-ann'], payload: { n: 1 }, ttlSeconds: 60 }, 1500);
    const category = await schedule({ category: 'at-news', payload: { n: 2 }, ttlSeconds: 90 }, 1500);
    expect(await status(direct.id)).toMatchObject({ state: 'scheduled', createdAt: null, scheduledFor: new Date(direct.sendAt).toISOString() });
    expect(await stack.redis.exists(keys.message(direct.id), keys.inbox('at-ann'))).toBe(0);

    await untilSent(direct.id);
    await untilSent(category.id);
    expect(await stack.redis.lrange(keys.inbox('at-ann'), 0, -1)).toEqual([direct.id]);
    const log = await stack.redis.xrange(keys.categoryLog('at-news'), '-', '+');
    expect(log.map(([, fields]) => fields[fields.indexOf('i') + 1])).toEqual([category.id]);

    for (const [{ id, sendAt }, ttlMs] of [[direct, 60_000], [category, 90_000]] as const) {
      const stored = decodeMessage((await stack.redis.get(keys.message(id))) ?? '');
      const frame = JSON.parse(stored!.frame.toString()) as MessageFrame;
      const createdAt = Date.parse(frame.createdAt);
      expect(createdAt).toBeGreaterThanOrEqual(sendAt);
      expect(stored!.expiresAt - createdAt).toBe(ttlMs);
      expect(await status(id)).toMatchObject({ state: 'sent', createdAt: frame.createdAt, expiresAt: new Date(stored!.expiresAt).toISOString() });
    }
    expect((await status(category.id)).fanout).toMatchObject({ messageId: category.id, category: 'at-news', state: 'completed' });
    expect(await sentCounts([worker], 2)).toEqual([2]);
  });

  it('drops the job of a message recalled before sendAt (the DELETE route), and a job already running sends nothing', async () => {
    // What DELETE does before sendAt: the record to recalled, then the job dropped.
    const dropped = await schedule({ userIds: ['recall-ann'], payload: 1 }, 60_000);
    await stack.redis.hset(keys.messageRecord(dropped.id), 'state', 'recalled', 'recalledAt', Date.now());
    expect(await worker.scheduler.dropScheduledJob(dropped.id)).toBe(true);
    expect(await stack.scheduledQueue().getJob(dropped.id)).toBeUndefined();
    expect(await status(dropped.id)).toMatchObject({ state: 'recalled', createdAt: null });

    // A recall the job does not see dropped (it was already taken): the job finds the record recalled.
    const running = await schedule({ userIds: ['recall-bob'], payload: 2 }, 1000);
    await stack.redis.hset(keys.messageRecord(running.id), 'state', 'recalled');
    await waitFor(async () => (await scheduledMetric(worker, 'cancelled')) === 2, { what: 'the recalled job to run' });
    expect(await stack.scheduledQueue().getJob(running.id)).toBeUndefined();
    expect(await stack.redis.exists(keys.message(running.id), keys.inbox('recall-bob'))).toBe(0);
    expect(await recordState(running.id)).toBe('recalled');
  });
});

it('is sent by an ingest started after the one that accepted it was closed', async () => {
  const first = await startWorker();
  let accepted: { id: string; sendAt: number };
  try {
    accepted = await schedule({ userIds: ['restart-ann'], payload: 'later' }, 2500, first);
  } finally {
    await first.close();
  }
  expect(await recordState(accepted.id)).toBe('scheduled'); // the first instance is gone before sendAt
  const second = await startWorker();
  try {
    await untilSent(accepted.id);
    expect(await stack.redis.lrange(keys.inbox('restart-ann'), 0, -1)).toEqual([accepted.id]);
    expect(await sentCounts([second], 1)).toEqual([1]);
  } finally {
    await second.close();
  }
});

it('is sent once by two replicas', async () => {
  const replicas = [await startWorker(), await startWorker()];
  try {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await schedule({ userIds: ['twice-ann'], payload: i }, 1000)).id);
    for (const id of ids) await untilSent(id);
    expect((await stack.redis.lrange(keys.inbox('twice-ann'), 0, -1)).sort()).toEqual([...ids].sort());
    const sent = await sentCounts(replicas, ids.length);
    expect(sent[0] + sent[1]).toBe(ids.length);
  } finally {
    await Promise.all(replicas.map((r) => r.close()));
  }
});
