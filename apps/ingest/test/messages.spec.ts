/**
 * POST /v1/messages against a real redis-server: bodies, offline lists, notifications, caps,
 * category messages. Refusals: messages-refusals.spec.ts.
 */
import Redis from 'ioredis';
import { decodeMessage, DELIVERY_BATCH, keys, parseNotification } from '@herald/redis';
import { waitFor } from '@herald/testing';
import type { MessageFrame } from '@herald/types';
import type { Ingest } from '../src/app';
import { bearer, counterValue, ingestConfig, sharedIngest, startIngest } from './harness';
import { MESSAGES_ENV } from './support/message-limits';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const stack = sharedIngest(MESSAGES_ENV);

async function sendOk(body: unknown, app: Ingest = stack.ingest): Promise<string> {
  const res = await app.app.inject({
    method: 'POST',
    url: '/v1/messages',
    headers: bearer(stack.tokens.messages),
    payload: body as object,
  });
  expect(res.statusCode).toBe(202);
  const { id } = res.json() as { id: string };
  expect(id).toMatch(UUID);
  return id;
}

async function metricsText(app: Ingest = stack.ingest): Promise<string> {
  return (await app.app.inject({ method: 'GET', url: '/metrics' })).body;
}

describe('to a list of users', () => {
  it('stores the body with its TTL and appends the id to every inbox, in order', async () => {
    const ttlSeconds = 120;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(await sendOk({ userIds: ['order-a', 'order-b'], payload: { n: i }, ttlSeconds }));
    }
    expect(new Set(ids).size).toBe(3);
    expect(await stack.redis.lrange(keys.inbox('order-a'), 0, -1)).toEqual(ids);
    expect(await stack.redis.lrange(keys.inbox('order-b'), 0, -1)).toEqual(ids);

    for (const [i, id] of ids.entries()) {
      const pttl = await stack.redis.pttl(keys.message(id));
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(ttlSeconds * 1000);
      const stored = decodeMessage((await stack.redis.get(keys.message(id))) ?? '');
      expect(stored).toMatchObject({ id, category: null });
      const frame = JSON.parse(stored!.frame.toString()) as MessageFrame;
      expect(frame).toMatchObject({ type: 'message', id, category: null, payload: { n: i } });
      expect(Date.parse(frame.createdAt)).not.toBeNaN();
      expect(stored!.expiresAt - Date.parse(frame.createdAt)).toBe(ttlSeconds * 1000);
    }
  });

  it('uses MESSAGE_DEFAULT_TTL_SECONDS when ttlSeconds is absent', async () => {
    const id = await sendOk({ userIds: ['default-ttl'], payload: 'hello' });
    const pttl = await stack.redis.pttl(keys.message(id));
    expect(pttl).toBeGreaterThan((stack.config.MESSAGE_DEFAULT_TTL_SECONDS - 60) * 1000);
    expect(pttl).toBeLessThanOrEqual(stack.config.MESSAGE_DEFAULT_TTL_SECONDS * 1000);
  });

  it('keeps each offline list MESSAGE_MAX_TTL_SECONDS after its last write, then lets it go', async () => {
    await sendOk({ userIds: ['expiring'], payload: 1, ttlSeconds: 60 });
    await stack.redis.expire(keys.inbox('expiring'), 10); // time passes
    await sendOk({ userIds: ['expiring'], payload: 2, ttlSeconds: 60 });
    const ttl = await stack.redis.ttl(keys.inbox('expiring'));
    expect(ttl).toBeGreaterThan(stack.config.MESSAGE_MAX_TTL_SECONDS - 60);
    expect(ttl).toBeLessThanOrEqual(stack.config.MESSAGE_MAX_TTL_SECONDS);
  });

  it('accepts any JSON payload, null included, and delivers it as given', async () => {
    for (const payload of [null, 0, 'text', [1, { deep: [true] }], { a: { b: null } }]) {
      const id = await sendOk({ userIds: ['payloads'], payload });
      const frame = JSON.parse(decodeMessage((await stack.redis.get(keys.message(id))) ?? '')!.frame.toString()) as MessageFrame;
      expect(frame.payload).toEqual(payload);
    }
  });

  it("notifies the user's gateways on the user's channel", async () => {
    const subscriber = new Redis(stack.server.url);
    const received: string[] = [];
    try {
      subscriber.on('smessage', (_channel: string, raw: string) => received.push(raw));
      await subscriber.ssubscribe(keys.userChannel('live-user'));
      const id = await sendOk({ userIds: ['live-user', 'someone-else'], payload: { live: true } });

      const raw = await waitFor(() => received[0], { what: 'a notification on the user channel' });
      const note = parseNotification(raw);
      expect(note?.kind).toBe('message');
      if (note?.kind !== 'message') return;
      expect(note.message).toMatchObject({ id, category: null });
      expect(JSON.parse(note.message.frame.toString())).toMatchObject({ type: 'message', id, payload: { live: true } });
      expect(received).toHaveLength(1);
    } finally {
      subscriber.disconnect();
    }
  });

  it('drops the oldest ids past INBOX_CAP and counts them', async () => {
    const capped = await startIngest(ingestConfig(stack.server.url, { INBOX_CAP: '2' }));
    try {
      const before = counterValue(await metricsText(capped), 'herald_inbox_dropped_total');
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(await sendOk({ userIds: ['capped-a', 'capped-b'], payload: i }, capped));

      expect(await stack.redis.lrange(keys.inbox('capped-a'), 0, -1)).toEqual(ids.slice(3));
      expect(await stack.redis.lrange(keys.inbox('capped-b'), 0, -1)).toEqual(ids.slice(3));
      const after = counterValue(await metricsText(capped), 'herald_inbox_dropped_total');
      expect(after - before).toBe(6); // 3 dropped from each of the 2 inboxes
    } finally {
      await capped.close();
    }
  });

  it('delivers to more recipients than one delivery batch holds', async () => {
    const userIds = Array.from({ length: DELIVERY_BATCH * 2 + 7 }, (_, i) => `many-${i}`);
    const wide = await startIngest(ingestConfig(stack.server.url, { MAX_RECIPIENTS: String(userIds.length) }));
    try {
      const id = await sendOk({ userIds, payload: 'to many' }, wide);
      const pipeline = stack.redis.pipeline();
      for (const userId of userIds) pipeline.lrange(keys.inbox(userId), 0, -1);
      const inboxes = ((await pipeline.exec()) ?? []).map(([, value]) => value);
      expect(inboxes).toEqual(userIds.map(() => [id]));
    } finally {
      await wide.close();
      // Keep the data set small for the snapshots the refusal tests take.
      await stack.redis.del(...userIds.map(keys.inbox));
    }
  });

  it('counts accepted messages by target', async () => {
    const before = counterValue(await metricsText(), 'herald_messages_accepted_total', 'target="users"');
    await sendOk({ userIds: ['counted'], payload: 1 });
    const after = counterValue(await metricsText(), 'herald_messages_accepted_total', 'target="users"');
    expect(after - before).toBe(1);
  });
});

describe('to a category', () => {
  async function setCategories(userId: string, categories: string[]): Promise<void> {
    const res = await stack.ingest.app.inject({
      method: 'PUT',
      url: `/v1/users/${userId}/categories`,
      headers: bearer(stack.tokens.categories),
      payload: { categories },
    });
    expect(res.statusCode).toBe(204);
  }

  it("is stored once, in the category's log, with one note for the gateways and nothing per member", async () => {
    await setCategories('news-1', ['news']);
    await setCategories('news-2', ['news', 'sports']);
    const before = counterValue(await metricsText(), 'herald_messages_accepted_total', 'target="category"');
    const notes: string[] = [];
    const sub = new Redis(stack.server.url);
    sub.on('smessage', (_channel: string, note: string) => notes.push(note));
    await sub.ssubscribe(keys.categoryChannel('news'));

    const id = await sendOk({ category: 'news', payload: { headline: 'x' }, ttlSeconds: 60 });

    expect(await stack.redis.exists(keys.inbox('news-1'), keys.inbox('news-2'))).toBe(0);
    const [[entry, fields]] = await stack.redis.xrange(keys.categoryLog('news'), '-', '+');
    expect(fields).toEqual(['i', id, 'e', expect.stringMatching(/^\d+$/)]);
    expect(await stack.redis.ttl(keys.categoryLog('news'))).toBeGreaterThan(stack.config.MESSAGE_MAX_TTL_SECONDS - 60);
    const stored = decodeMessage((await stack.redis.get(keys.message(id))) ?? '');
    expect(stored).toMatchObject({ id, category: 'news' });
    expect(JSON.parse(stored!.frame.toString())).toMatchObject({ category: 'news', payload: { headline: 'x' } });
    const pttl = await stack.redis.pttl(keys.message(id));
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(60_000);
    await waitFor(() => notes.length === 1, { what: 'the category note' });
    expect(parseNotification(notes[0])).toMatchObject({ kind: 'entry', entry, id, message: { id, category: 'news' } });
    const after = counterValue(await metricsText(), 'herald_messages_accepted_total', 'target="category"');
    expect(after - before).toBe(1);
    sub.disconnect();
  });

  it('answers 202 for a category without members, writing the body, its record and the log entry only', async () => {
    const before = (await stack.redis.keys('*')).sort();
    const id = await sendOk({ category: 'nobody-here', payload: 1 });
    const written = [keys.message(id), keys.messageRecord(id), keys.categoryLog('nobody-here')];
    expect((await stack.redis.keys('*')).sort()).toEqual([...before, ...written].sort());
  });

  it('costs the same Redis commands for a category of 10 members as for one of 10,000', async () => {
    const calls = async () => {
      const stats = await stack.redis.info('commandstats');
      return [...stats.matchAll(/calls=(\d+)/g)].reduce((sum, [, n]) => sum + Number(n), 0);
    };
    const cost = async (category: string, members: number) => {
      for (let i = 0; i < members; i += 5000) {
        await stack.redis.sadd(keys.categoryMembers(category), ...Array.from({ length: Math.min(5000, members - i) }, (_, k) => `m-${i + k}`));
      }
      const before = await calls();
      await sendOk({ category, payload: { members } });
      // The INFO that read the count before is one command itself (counted once it ran).
      return (await calls()) - before - 1;
    };
    const small = await cost('ten', 10);
    // Body, record, log append, note, and the analytics: the members count (SCARD) and the
    // `sent` event's append to the outbox (a script: XLEN, XRANGE of what is past the age bound, XADD).
    expect(small).toBeLessThanOrEqual(20);
    expect(await cost('ten-thousand', 10_000)).toBe(small);
  });

  it('keeps a log at CATEGORY_LOG_CAP entries, counting the ones dropped', async () => {
    const small = await startIngest({ ...stack.config, CATEGORY_LOG_CAP: 3 });
    const dropped = async () => counterValue(await metricsText(small), 'herald_category_log_dropped_total');
    const before = await dropped();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await sendOk({ category: 'capped', payload: i }, small));
    expect((await stack.redis.xrange(keys.categoryLog('capped'), '-', '+')).map(([, f]) => f[1])).toEqual(ids.slice(2));
    expect((await dropped()) - before).toBe(2);
    await small.close();
  });
});
