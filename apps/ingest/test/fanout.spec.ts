/**
 * Category messages as BullMQ jobs, through the HTTP API on a real redis-server: the job writes
 * every member's inbox, its progress is visible, and a category of 100k members does not block
 * the API while it is written.
 */
import { keys } from '@herald/redis';
import { waitFor } from '@herald/testing';
import { bearer, counterValue, sharedIngest } from './harness';

const stack = sharedIngest({ FANOUT_CHUNK_SIZE: '1000' });

interface FanoutStatus {
  state: string;
  category: string;
  progress: { chunks: number; delivered: number; skipped: number; dropped: number; done: boolean };
}

async function post(body: object, headers: Record<string, string> = {}) {
  const res = await stack.ingest.app.inject({
    method: 'POST',
    url: '/v1/messages',
    headers: { ...bearer(stack.tokens.messages), ...headers },
    payload: body,
  });
  expect(res.statusCode).toBe(202);
  return (res.json() as { id: string }).id;
}

async function status(id: string): Promise<{ code: number; body: FanoutStatus }> {
  const res = await stack.ingest.app.inject({ url: `/v1/messages/${id}/fanout`, headers: bearer(stack.tokens.messages) });
  return { code: res.statusCode, body: res.json() as FanoutStatus };
}

async function addMembers(category: string, count: number, prefix: string): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  for (let i = 0; i < ids.length; i += 10_000) await stack.redis.sadd(keys.categoryMembers(category), ...ids.slice(i, i + 10_000));
  return ids;
}

async function metric(name: string, labels = ''): Promise<number> {
  return counterValue((await stack.ingest.app.inject({ url: '/metrics' })).body, name, labels);
}

it('writes 100k members in chunks, shows progress, and keeps answering the API meanwhile', async () => {
  const members = await addMembers('huge', 100_000, 'h');
  const membersBefore = await metric('herald_fanout_members_total');
  const id = await post({ category: 'huge', payload: { big: true } });

  // While the job runs, the API answers: direct messages are accepted (post() checks the 202)
  // between two readings of the job part-way. Counted, not timed: a busy machine slows both alike.
  const seen: FanoutStatus[] = [];
  let activeInQueue = 0;
  let directs = 0;
  let acceptedMidway = 0;
  const midway = (s: FanoutStatus | undefined) => s?.state === 'active' && s.progress.delivered > 0 && s.progress.delivered < 100_000;
  await waitFor(
    async () => {
      const before = seen.at(-1);
      await post({ userIds: [`direct-${directs++}`], payload: 1 });
      const s = await status(id);
      seen.push(s.body);
      if (midway(before) && midway(s.body)) acceptedMidway++;
      if (s.body.state === 'active') activeInQueue = Math.max(activeInQueue, await metric('herald_fanout_queue_jobs', 'state="active"'));
      return s.body.state === 'completed';
    },
    { timeoutMs: 60_000, intervalMs: 5, what: 'the 100k fan-out to complete' },
  );

  const final = seen[seen.length - 1];
  expect(final).toMatchObject({ state: 'completed', category: 'huge' });
  expect(final.progress).toMatchObject({ delivered: 100_000, done: true });
  expect(final.progress.chunks).toBeGreaterThanOrEqual(100);
  // Progress was visible part-way, not only at the end.
  expect(seen.some((s) => s.state === 'active' && s.progress.delivered > 0 && s.progress.delivered < 100_000)).toBe(true);
  expect(activeInQueue).toBe(1);
  expect(acceptedMidway).toBeGreaterThanOrEqual(3);
  expect((await metric('herald_fanout_members_total')) - membersBefore).toBe(100_000);
  expect(await metric('herald_fanout_jobs_total', 'result="completed"')).toBeGreaterThanOrEqual(1);
  expect(await metric('herald_fanout_queue_jobs', 'state="active"')).toBe(0);
  expect(await metric('herald_fanout_queue_jobs', 'state="failed"')).toBe(0);

  const sample = [members[0], members[4_242], members[99_999]];
  for (const userId of sample) expect(await stack.redis.lrange(keys.inbox(userId), 0, -1)).toEqual([id]);
  let total = 0;
  for (let i = 0; i < members.length; i += 5_000) {
    const pipeline = stack.redis.pipeline();
    for (const userId of members.slice(i, i + 5_000)) pipeline.llen(keys.inbox(userId));
    total += ((await pipeline.exec()) ?? []).reduce((sum, [, n]) => sum + (n as number), 0);
  }
  expect(total).toBe(100_000);
}, 90_000);

it('answers 404 for a message without a fan-out, 400 for a bad id, 401/403 without the scope', async () => {
  const direct = await post({ userIds: ['someone'], payload: 1 });
  expect((await status(direct)).code).toBe(404);
  expect((await status(direct)).body).toMatchObject({ error: { code: 'FANOUT_NOT_FOUND' } });
  const bad = await stack.ingest.app.inject({ url: '/v1/messages/has%20space/fanout', headers: bearer(stack.tokens.messages) });
  expect(bad.statusCode).toBe(400);
  const user = await stack.ingest.app.inject({ url: `/v1/messages/${direct}/fanout`, headers: bearer(stack.tokens.user) });
  expect(user.statusCode).toBe(403);
  expect((await stack.ingest.app.inject({ url: `/v1/messages/${direct}/fanout` })).statusCode).toBe(401);
});

it('fans out a repeated category request once (Idempotency-Key)', async () => {
  const members = await addMembers('twice', 50, 't');
  const headers = { 'idempotency-key': 'category-once' };
  const first = await post({ category: 'twice', payload: 'x' }, headers);
  const second = await post({ category: 'twice', payload: 'x' }, headers);
  expect(second).toBe(first);
  await waitFor(async () => (await status(first)).body.state === 'completed', { what: 'the fan-out' });
  for (const userId of members) expect(await stack.redis.lrange(keys.inbox(userId), 0, -1)).toEqual([first]);
});

it('counts every member reached and every id the caps dropped, also in an attempt that failed part-way', async () => {
  // full-0's inbox is at the cap (one id drops); broken-0's key holds a string, so its delivery
  // fails (WRONGTYPE) while the others in the chunk are delivered; then it is repaired and the
  // retry delivers to it alone.
  const [full] = await addMembers('counted', 1, 'full');
  const [ok] = await addMembers('counted', 1, 'ok');
  const [broken] = await addMembers('counted', 1, 'broken');
  await stack.redis.rpush(keys.inbox(full), ...Array.from({ length: 1000 }, (_, i) => `old-${i}`));
  await stack.redis.set(keys.inbox(broken), 'not a list');
  const [membersBefore, droppedBefore] = [await metric('herald_fanout_members_total'), await metric('herald_inbox_dropped_total')];

  const id = await post({ category: 'counted', payload: 'counted' });
  await waitFor(async () => (await status(id)).body.state === 'delayed', { timeoutMs: 10_000, what: 'the first attempt to fail' });
  const failed = await stack.ingest.app.inject({ url: `/v1/messages/${id}/fanout`, headers: bearer(stack.tokens.messages) });
  expect(failed.json()).toMatchObject({ failedReason: expect.stringMatching(/^WRONGTYPE/) });
  expect((await metric('herald_fanout_members_total')) - membersBefore).toBe(2);
  await stack.redis.del(keys.inbox(broken));
  await waitFor(async () => (await status(id)).body.state === 'completed', { timeoutMs: 10_000, what: 'the retry' });

  expect((await status(id)).body.progress).toMatchObject({ delivered: 1, skipped: 2, done: true });
  expect((await metric('herald_fanout_members_total')) - membersBefore).toBe(3);
  expect((await metric('herald_inbox_dropped_total')) - droppedBefore).toBe(1);
  expect(await stack.redis.lrange(keys.inbox(ok), 0, -1)).toEqual([id]);
  expect(await stack.redis.lrange(keys.inbox(broken), 0, -1)).toEqual([id]);
});
