/**
 * POST /v1/messages with `sendAt`, and GET /v1/messages/{id}, against a real redis-server, with
 * no worker (nothing fires here; scheduled.spec.ts sends): bad sendAt refused writing nothing, a
 * good one recorded and held as one delayed job, once per Idempotency-Key; who may read a message.
 */
import { keys } from '@herald/redis';
import { bearer, expectNoWrites, expectRefusal, sharedIngest } from './harness';

const HOUR_MS = 3600 * 1000;

/** The queue as BullMQ sees it, on a connection of the test's own; made at its first use. */
const stack = sharedIngest();

function post(body: object, token = stack.tokens.messages, headers: Record<string, string> = {}) {
  return stack.ingest.app.inject({ method: 'POST', url: '/v1/messages', headers: { ...bearer(token), ...headers }, payload: body });
}

function get(id: string, token = stack.tokens.messages) {
  return stack.ingest.app.inject({ method: 'GET', url: `/v1/messages/${id}`, headers: bearer(token) });
}

describe('a bad sendAt is refused and writes nothing', () => {
  const iso = (ms: number) => new Date(ms).toISOString();
  const cases: Array<[string, () => unknown]> = [
    ['a minute in the past', () => iso(Date.now() - 60_000)],
    ['past SCHEDULE_MAX_AHEAD_SECONDS (30 days)', () => iso(Date.now() + 30 * 24 * HOUR_MS + 60_000)],
    ['no time zone', () => '2030-01-01T10:00:00'],
    ['a date only', () => '2030-01-01'],
    ['February 30', () => '2030-02-30T10:00:00Z'],
    ['hour 24', () => '2030-01-01T24:00:00Z'],
    ['words', () => 'tomorrow'],
    ['a number (epoch ms)', () => Date.now() + 60_000],
  ];
  it.each(cases)('400 INVALID_SEND_AT for %s', async (_name, sendAt) => {
    await expectNoWrites(stack.redis, async () => {
      expectRefusal(await post({ userIds: ['ann'], payload: 1, sendAt: sendAt() }), 400, 'INVALID_SEND_AT');
    });
  });

  it('400 INVALID_BODY for sendAt in a batch item (scheduling is POST /v1/messages only)', async () => {
    await expectNoWrites(stack.redis, async () => {
      const res = await stack.ingest.app.inject({
        method: 'POST',
        url: '/v1/messages/batch',
        headers: bearer(stack.tokens.messages),
        payload: { messages: [{ userIds: ['ann'], payload: 1, sendAt: new Date(Date.now() + HOUR_MS).toISOString() }] },
      });
      expect(res.json()).toMatchObject({ results: [{ error: { code: 'INVALID_BODY' } }] });
    });
  });
});

describe('a good sendAt', () => {
  it('answers 202 {id, scheduledFor}, records the message as scheduled and holds one delayed job, sending nothing yet', async () => {
    const sendAt = Date.now() + HOUR_MS;
    const res = await post({ userIds: ['sched-ann', 'sched-bob'], payload: { hi: 1 }, ttlSeconds: 600, sendAt: new Date(sendAt).toISOString() });
    expect(res.statusCode).toBe(202);
    const { id, scheduledFor } = res.json() as { id: string; scheduledFor: string };
    expect(scheduledFor).toBe(new Date(sendAt).toISOString());

    expect(await stack.redis.exists(keys.message(id), keys.inbox('sched-ann'), keys.inbox('sched-bob'))).toBe(0);
    const job = await stack.scheduledQueue().getJob(id);
    expect(await job?.getState()).toBe('delayed');
    expect(job?.data).toEqual({ recipients: { userIds: ['sched-ann', 'sched-bob'] }, payload: { hi: 1 }, ttlSeconds: 600, record: { producer: 'producer-messages' }, sendAt: expect.any(Number) });

    const status = await get(id);
    expect(status.statusCode).toBe(200);
    expect(status.json()).toEqual({
      id,
      state: 'scheduled',
      category: null,
      recipients: 2,
      createdAt: null,
      expiresAt: null,
      scheduledFor,
      updatedAt: null,
      recalledAt: null,
      version: 1,
      fanout: null,
    });
  });

  it('takes an offset and a sendAt a moment ago (sent as soon as possible)', async () => {
    const soon = await post({ category: 'news', payload: 1, sendAt: '2099-01-01T00:00:00+00:00' });
    expectRefusal(soon, 400, 'INVALID_SEND_AT'); // far beyond 30 days: the offset form is parsed, then judged
    const now = await post({ category: 'news', payload: 1, sendAt: new Date(Date.now() - 1000).toISOString().replace('Z', '+00:00') });
    expect(now.statusCode).toBe(202);
    const job = await stack.scheduledQueue().getJob((now.json() as { id: string }).id);
    expect(await job?.getState()).toBe('waiting'); // no delay left: the first free worker sends it
  });

  it('is scheduled once per Idempotency-Key: a repeat answers the same and adds nothing', async () => {
    const body = { userIds: ['sched-idem'], payload: 'once', sendAt: new Date(Date.now() + HOUR_MS).toISOString() };
    const first = await post(body, undefined, { 'idempotency-key': 'sched-key-1' });
    expect(first.statusCode).toBe(202);
    const jobsBefore = await stack.scheduledQueue().getJobCountByTypes('delayed', 'waiting');
    await expectNoWrites(stack.redis, async () => {
      const again = await post(body, undefined, { 'idempotency-key': 'sched-key-1' });
      expect(again.statusCode).toBe(202);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.json()).toEqual(first.json());
    });
    expect(await stack.scheduledQueue().getJobCountByTypes('delayed', 'waiting')).toBe(jobsBefore);
  });
});

describe('GET /v1/messages/{id}', () => {
  let id: string;
  beforeAll(async () => {
    const res = await post({ category: 'owned', payload: 1, sendAt: new Date(Date.now() + HOUR_MS).toISOString() });
    id = (res.json() as { id: string }).id;
  });

  it('answers its producer and an admin', async () => {
    expect((await get(id)).json()).toMatchObject({ id, state: 'scheduled', category: 'owned', recipients: 0 });
    expect((await get(id, stack.tokens.admin)).json()).toMatchObject({ id, state: 'scheduled' });
  });

  it('refuses another producer (403 NOT_MESSAGE_OWNER), a token without messages:write (403 FORBIDDEN), an unknown id (404), writing nothing', async () => {
    await expectNoWrites(stack.redis, async () => {
      expectRefusal(await get(id, stack.tokens.otherProducer), 403, 'NOT_MESSAGE_OWNER');
      expectRefusal(await get(id, stack.tokens.categories), 403, 'FORBIDDEN');
      expectRefusal(await get('00000000-0000-4000-8000-000000000000'), 404, 'MESSAGE_NOT_FOUND');
      expectRefusal(await get('not_an_id!'), 400, 'BAD_REQUEST');
    });
  });

  it('shows a message sent at once as sent, with its times', async () => {
    const sent = await post({ userIds: ['now-ann'], payload: 1, ttlSeconds: 60 });
    const sentId = (sent.json() as { id: string }).id;
    const status = (await get(sentId)).json() as Record<string, unknown>;
    expect(status).toMatchObject({ id: sentId, state: 'sent', recipients: 1, scheduledFor: null, fanout: null });
    expect(Date.parse(status.expiresAt as string) - Date.parse(status.createdAt as string)).toBe(60_000);
  });
});
