/** fanOutToCategory on its own: chunked SSCAN walk, every member exactly once, resumable. */
import Redis from 'ioredis';
import { waitFor, type RedisServer } from '@herald/testing';
import {
  DeliveryError,
  fanOutToCategory,
  keys,
  parseNotification,
  type CategoryFanout,
  type DeliveryCounts,
  type FanoutProgress,
  type HeraldRedis,
} from '../src';
import { usePrivateRedis } from './private-redis';

let server: RedisServer;
let redis: HeraldRedis;
usePrivateRedis('fanout-test', (s, r) => ([server, redis] = [s, r]));

function job(messageId: string, category: string, extra: Partial<CategoryFanout> = {}): CategoryFanout {
  return {
    messageId,
    cap: 10,
    inboxTtlSeconds: 60,
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

  const result = await fanOutToCategory(redis, job('m-big', 'big', { onChunk: (p) => void seen.push(p) }));

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
  await fanOutToCategory(redis, job('m-ref', 'refs'));
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
      redis,
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
  const result = await fanOutToCategory(redis, job('m-resume', 'resume', { from: earlier }));
  expect(result.done).toBe(true);
  expect(result.delivered + result.skipped).toBeGreaterThanOrEqual(memberIds.length);
  expect(result.skipped).toBeGreaterThan(0);
  expect(await inboxes(memberIds)).toEqual(memberIds.map(() => ['m-resume']));
});

it('reports what the inbox caps dropped, in the progress and per chunk', async () => {
  await redis.sadd(keys.categoryMembers('tiny'), 'tiny-1', 'tiny-2');
  await fanOutToCategory(redis, job('m-1', 'tiny', { cap: 1 }));
  const chunks: DeliveryCounts[] = [];
  const result = await fanOutToCategory(redis, job('m-2', 'tiny', { cap: 1, onChunk: (_p, chunk) => void chunks.push(chunk) }));

  expect(result).toMatchObject({ delivered: 2, dropped: 2 });
  expect(chunks).toEqual([{ delivered: 2, skipped: 0, dropped: 2 }]);
  expect(await redis.lrange(keys.inbox('tiny-1'), 0, -1)).toEqual(['m-2']);
});

it('stops at a chunk whose deliveries failed, with that chunk\'s counts, after delivering the rest of it', async () => {
  // A member whose inbox key holds a string: its deliver script fails (WRONGTYPE), the others run.
  await redis.sadd(keys.categoryMembers('broken'), 'ok-1', 'ok-2', 'bad-1');
  await redis.set(keys.inbox('bad-1'), 'not a list');
  const failure = await fanOutToCategory(redis, job('m-broken', 'broken')).catch((err: unknown) => err);

  expect(failure).toBeInstanceOf(DeliveryError);
  const { counts, failed, cause } = failure as DeliveryError;
  expect({ counts, failed }).toEqual({ counts: { delivered: 2, skipped: 0, dropped: 0 }, failed: 1 });
  expect(String(cause)).toMatch(/WRONGTYPE/);
  expect(await redis.lrange(keys.inbox('ok-1'), 0, -1)).toEqual(['m-broken']);
});

it('delivers nothing for a category without members', async () => {
  const keysBefore = await redis.dbsize();
  expect(await fanOutToCategory(redis, job('m-none', 'empty-category'))).toMatchObject({ delivered: 0, dropped: 0, done: true });
  expect(await redis.dbsize()).toBe(keysBefore);
});
