/** fanOutToCategory on its own: chunked SSCAN walk, every member exactly once, resumable. */
import Redis from 'ioredis';
import { Registry } from 'prom-client';
import { closeRedis, createRedis, keys, parseNotification, type HeraldRedis } from '@herald/redis';
import { startRedisServer, waitFor, type RedisServer } from '@herald/testing';
import { fanOutToCategory, type CategoryFanout, type FanoutProgress } from '../src/fanout/category-fanout';
import { createIngestMetrics } from '../src/metrics';
import { ingestConfig } from './harness';

let server: RedisServer;
let redis: HeraldRedis;

beforeAll(async () => {
  server = await startRedisServer();
  redis = createRedis(ingestConfig(server.url), 'commands', 'fanout-test');
});

afterAll(async () => {
  if (redis) await closeRedis(redis);
  await server?.stop();
});

function job(messageId: string, category: string, extra: Partial<CategoryFanout> = {}): CategoryFanout {
  return {
    delivery: { redis, messageId, inboxCap: 10, inboxTtlSeconds: 60, metrics: createIngestMetrics(new Registry()) },
    category,
    chunkSize: 50,
    ...extra,
  };
}

async function inboxes(userIds: string[]): Promise<string[][]> {
  return Promise.all(userIds.map((id) => redis.lrange(keys.inbox(id), 0, -1)));
}

it('walks a set many chunks long, delivers to every member once, and reports progress per chunk', async () => {
  const memberIds = Array.from({ length: 1234 }, (_, i) => `member-${i}`);
  await redis.sadd(keys.categoryMembers('big'), ...memberIds);
  const seen: FanoutProgress[] = [];

  const result = await fanOutToCategory(job('m-big', 'big', { onChunk: (p) => void seen.push(p) }));

  expect(result).toMatchObject({ delivered: memberIds.length, skipped: 0, dropped: 0, done: true, cursor: '0' });
  expect(seen.length).toBe(result.chunks);
  expect(seen.length).toBeGreaterThan(10);
  expect(seen.map((p) => p.delivered)).toEqual([...seen.map((p) => p.delivered)].sort((a, b) => a - b));
  expect(await inboxes(memberIds)).toEqual(memberIds.map(() => ['m-big']));
});

it('sends each member a reference note, not a copy of the body', async () => {
  await redis.sadd(keys.categoryMembers('refs'), 'ref-1');
  const sub = new Redis(server.url);
  const notes: string[] = [];
  sub.on('smessage', (_c: string, raw: string) => notes.push(raw));
  await sub.ssubscribe(keys.userChannel('ref-1'));
  await fanOutToCategory(job('m-ref', 'refs'));
  await waitFor(() => notes.length === 1, { what: 'the note' });
  expect(parseNotification(notes[0])).toEqual({ kind: 'ref', id: 'm-ref' });
  sub.disconnect();
});

it('resumes a walk from recorded progress without duplicating any id', async () => {
  const memberIds = Array.from({ length: 300 }, (_, i) => `resume-${i}`);
  await redis.sadd(keys.categoryMembers('resume'), ...memberIds);
  let recorded: FanoutProgress | undefined;
  // The first attempt dies after its second chunk (as a killed process would).
  await expect(
    fanOutToCategory(
      job('m-resume', 'resume', {
        onChunk(p) {
          recorded = p;
          if (p.chunks === 2) throw new Error('killed');
        },
      }),
    ),
  ).rejects.toThrow('killed');
  expect(recorded?.done).toBe(false);
  // The retry starts one chunk early (the last one was written but, say, not recorded).
  const earlier = { ...recorded!, cursor: '0', chunks: 0, delivered: 0 };
  const result = await fanOutToCategory(job('m-resume', 'resume', { from: earlier }));
  expect(result.done).toBe(true);
  expect(result.delivered + result.skipped).toBeGreaterThanOrEqual(memberIds.length);
  expect(result.skipped).toBeGreaterThan(0);
  expect(await inboxes(memberIds)).toEqual(memberIds.map(() => ['m-resume']));
});

it('reports and counts what the inbox caps dropped', async () => {
  await redis.sadd(keys.categoryMembers('tiny'), 'tiny-1', 'tiny-2');
  const first = job('m-1', 'tiny');
  first.delivery.inboxCap = 1;
  await fanOutToCategory(first);
  const second = job('m-2', 'tiny');
  second.delivery.inboxCap = 1;
  const result = await fanOutToCategory(second);

  expect(result).toMatchObject({ delivered: 2, dropped: 2 });
  expect((await second.delivery.metrics.inboxDropped.get()).values[0]?.value).toBe(2);
  expect(await redis.lrange(keys.inbox('tiny-1'), 0, -1)).toEqual(['m-2']);
});

it('delivers nothing for a category without members', async () => {
  const keysBefore = await redis.dbsize();
  expect(await fanOutToCategory(job('m-none', 'empty-category'))).toMatchObject({ delivered: 0, dropped: 0, done: true });
  expect(await redis.dbsize()).toBe(keysBefore);
});
