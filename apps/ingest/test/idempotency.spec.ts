/**
 * Idempotency-Key on POST /v1/messages against a real redis-server: the same key within the TTL
 * answers the first result and writes nothing again, also when the duplicates arrive at once and
 * when the first request died holding the key.
 */
import Redis from 'ioredis';
import { claimIdempotency, createRedis, closeRedis, fingerprint, keys, type HeraldRedis } from '@herald/redis';
import { signToken, waitFor } from '@herald/testing';
import { Scope } from '@herald/types';
import { bearer, counterValue, expectNoWrites, sharedIngest } from './harness';

const LEASE_MS = 300;

/** A client with Herald's scripts loaded, to hold a key as a request that died would. */
let scripts: HeraldRedis;
// Declared before the stack: after-all hooks run in the order they are declared, so this client
// closes before the stack stops its server.
afterAll(async () => {
  if (scripts) await closeRedis(scripts);
});

const stack = sharedIngest({ IDEMPOTENCY_LEASE_MS: String(LEASE_MS) });

beforeAll(() => {
  scripts = createRedis(stack.config, 'commands', 'idempotency-test');
});

function post(body: object, key?: string, token = stack.tokens.messages) {
  return stack.ingest.app.inject({
    method: 'POST',
    url: '/v1/messages',
    headers: { ...bearer(token), ...(key === undefined ? {} : { 'idempotency-key': key }) },
    payload: body,
  });
}

const inbox = (userId: string) => stack.redis.lrange(keys.inbox(userId), 0, -1);

it('answers a repeat with the first id, marked replayed, and writes nothing again', async () => {
  const body = { userIds: ['idem-a', 'idem-b'], payload: { n: 1 } };
  const first = await post(body, 'key-1');
  expect(first.statusCode).toBe(202);
  expect(first.headers['idempotent-replayed']).toBeUndefined();
  const { id } = first.json() as { id: string };

  await expectNoWrites(stack.redis, async () => {
    const again = await post(body, 'key-1');
    expect(again.statusCode).toBe(202);
    expect(again.json()).toEqual({ id });
    expect(again.headers['idempotent-replayed']).toBe('true');
  });
  expect(await inbox('idem-a')).toEqual([id]);
  expect(await inbox('idem-b')).toEqual([id]);
  expect(counterValue((await stack.ingest.app.inject({ url: '/metrics' })).body, 'herald_idempotent_replays_total')).toBe(1);
});

it('gives 30 concurrent duplicates one message, in each inbox once', async () => {
  const body = { userIds: ['burst-a', 'burst-b'], payload: 'burst' };
  const answers = await Promise.all(Array.from({ length: 30 }, () => post(body, 'burst-key')));
  expect(answers.map((a) => a.statusCode)).toEqual(answers.map(() => 202));
  const ids = new Set(answers.map((a) => (a.json() as { id: string }).id));
  expect(ids.size).toBe(1);
  const [id] = ids;
  expect(await inbox('burst-a')).toEqual([id]);
  expect(await inbox('burst-b')).toEqual([id]);
  expect(answers.filter((a) => a.headers['idempotent-replayed'] === 'true')).toHaveLength(29);
});

it('takes over, with the same id, a key whose first request died holding it', async () => {
  // ttlSeconds given: the fingerprint is of the body as validated, defaults filled in.
  const body = { userIds: ['orphan'], payload: 'late', ttlSeconds: 60 };
  // A request claimed the key and its process died before writing anything.
  const producer = 'producer-messages';
  const claim = await claimIdempotency(scripts, {
    producer,
    key: 'orphan-key',
    id: 'a0a0a0a0-0000-4000-8000-000000000001',
    fingerprint: fingerprint(body),
    leaseMs: LEASE_MS,
    ttlSeconds: 60,
  });
  expect(claim.state).toBe('claimed');
  const res = await post(body, 'orphan-key');
  expect(res.statusCode).toBe(202);
  expect(res.json()).toEqual({ id: 'a0a0a0a0-0000-4000-8000-000000000001' });
  expect(await inbox('orphan')).toEqual(['a0a0a0a0-0000-4000-8000-000000000001']);
  expect(await stack.redis.exists(keys.message('a0a0a0a0-0000-4000-8000-000000000001'))).toBe(1);
});

it('refuses the same key with another body, and a malformed key, writing nothing', async () => {
  expect((await post({ userIds: ['reuse'], payload: 1 }, 'reused')).statusCode).toBe(202);
  await expectNoWrites(stack.redis, async () => {
    const other = await post({ userIds: ['reuse'], payload: 2 }, 'reused');
    expect(other.statusCode).toBe(400);
    expect(other.json()).toMatchObject({ error: { code: 'IDEMPOTENCY_KEY_REUSED' } });
    for (const bad of ['has space', 'x'.repeat(256), 'tab\there', 'é']) {
      const res = await post({ userIds: ['reuse'], payload: 1 }, bad);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: { code: 'INVALID_IDEMPOTENCY_KEY' } });
    }
  });
});

it('keeps keys apart per producer', async () => {
  const other = await signToken('another-producer', { scope: Scope.MESSAGES_WRITE });
  const body = { userIds: ['shared'], payload: 1 };
  const a = (await post(body, 'same-key')).json() as { id: string };
  const b = (await post(body, 'same-key', other)).json() as { id: string };
  expect(a.id).not.toBe(b.id);
  expect(await inbox('shared')).toEqual([a.id, b.id]);
});

it('sends a new message for each request without a key', async () => {
  const body = { userIds: ['no-key'], payload: 1 };
  const a = (await post(body)).json() as { id: string };
  const b = (await post(body)).json() as { id: string };
  expect(a.id).not.toBe(b.id);
  expect(await inbox('no-key')).toEqual([a.id, b.id]);
});

it('answers a retry whose JSON has its keys in another order as the same request', async () => {
  const send = (json: string) =>
    stack.ingest.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: { ...bearer(stack.tokens.messages), 'idempotency-key': 'reordered', 'content-type': 'application/json' },
      payload: json,
    });
  const first = await send('{"userIds":["canon"],"payload":{"a":1,"b":{"c":[{"x":1,"y":2}],"d":null}},"ttlSeconds":60}');
  expect(first.statusCode).toBe(202);
  const again = await send('{"ttlSeconds":60,"payload":{"b":{"d":null,"c":[{"y":2,"x":1}]},"a":1},"userIds":["canon"]}');
  expect(again.statusCode).toBe(202);
  expect(again.json()).toEqual(first.json());
  expect(again.headers['idempotent-replayed']).toBe('true');
  // Arrays keep their order: another order of recipients is another body.
  const other = await send('{"userIds":["canon","other"],"payload":{"a":1,"b":{"c":[{"x":1,"y":2}],"d":null}},"ttlSeconds":60}');
  expect(other.statusCode).toBe(400);
});

it('a retry after a failed first attempt skips users it reached, also one who acknowledged the id since', async () => {
  const body = { userIds: ['reached', 'acked', 'unreached'], payload: 'once' };
  // The first attempt fails part-way: 'unreached' has a key of the wrong type where its inbox
  // goes, so its delivery fails while the others' succeed; the request answers 5xx, its key
  // stays claimed until the lease runs out.
  await stack.redis.set(keys.inbox('unreached'), 'not a list');
  const notes = new Redis(stack.server.url);
  const heard: string[] = [];
  notes.on('smessage', (channel: string) => heard.push(keys.userOfChannel(channel) ?? channel));
  try {
    await notes.ssubscribe(keys.userChannel('acked'), keys.userChannel('unreached'));
    const first = await post(body, 'part-way');
    expect(first.statusCode).toBe(500);
    const [id] = await inbox('acked');
    expect(await inbox('reached')).toEqual([id]);
    await stack.redis.lrem(keys.inbox('acked'), 0, id); // 'acked' read it and acknowledged it (the gateway's LREM)
    await stack.redis.del(keys.inbox('unreached'));
    await waitFor(() => heard.includes('acked'), { what: "the first attempt's notification" });

    // The retry waits out the first attempt's lease, then takes over.
    const retry = await post(body, 'part-way');
    expect(retry.statusCode).toBe(202);
    expect(retry.json()).toEqual({ id });
    expect(await inbox('unreached')).toEqual([id]);
    expect(await inbox('reached')).toEqual([id]);
    expect(await inbox('acked')).toEqual([]);
    await waitFor(() => heard.includes('unreached'), { what: "the retry's notification" });
    // Notifications on one connection arrive in publish order: none for 'acked' came with the retry.
    expect(heard).toEqual(['acked', 'unreached']);
  } finally {
    notes.disconnect();
  }
});
