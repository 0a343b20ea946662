/**
 * Pub/Sub -> Postgres against a real emulator and a real Postgres: every event lands exactly once,
 * poison messages are dead-lettered and acknowledged, nothing is acknowledged before it committed,
 * and close() writes what is buffered; messages holding several events (as gateways and ingest
 * publish them) the same, event by event.
 */
process.env.METADATA_SERVER_DETECTION = 'none';

import type { Topic } from '@google-cloud/pubsub';
import { EVENT_COUNT_ATTRIBUTE, EVENT_ENCODING_ATTRIBUTE } from '@herald/pubsub';
import type { Pool } from 'pg';
import type { ConsumerConfig } from '@herald/config';
import { waitFor } from '@herald/testing';
import type { ExposureEvent } from '@herald/types';
import type { Consumer } from '../src/app';
import { countRows, counterValue, exposure, histogramCount, inspector } from './support/fixtures';
import { configFor, publish, publishPacked, startBackends, startConsumer, type Backends } from './support/harness';

jest.setTimeout(60_000);

let backends: Backends;
let db: Pool;
let config: ConsumerConfig;
let consumer: Consumer;
let topic: Topic;

const idsIn = (events: ExposureEvent[]) => events.map((e) => e.eventId);
const storedCount = (ids: string[]) => countRows(db, 'SELECT 1 FROM exposures WHERE event_id = ANY($1)', [ids]);
const received = (c: Consumer = consumer) => counterValue(c.metrics, 'herald_exposures_received_total');

/**
 * Restarts the shared consumer, publishes a marker and waits for it to be stored: what the new
 * consumer received. 1 (the marker) when every message before was acknowledged, not held or nacked.
 */
async function receivedAfterRestart(): Promise<number> {
  await consumer.close();
  consumer = await startConsumer(config, { retryInitialMs: 20, retryMaxMs: 200 });
  const marker = exposure();
  await publish(topic, marker);
  await waitFor(async () => (await storedCount([marker.eventId])) === 1, { what: 'the marker stored' });
  return received();
}

beforeAll(async () => {
  backends = await startBackends();
  db = inspector(backends.postgres.url);
  config = configFor(backends);
  consumer = await startConsumer(config, { retryInitialMs: 20, retryMaxMs: 200 });
  topic = backends.publisher.topic(config.EXPOSURE_TOPIC);
});

afterAll(async () => {
  await consumer?.close();
  await db?.end();
  await backends?.stop();
});

test('every published event is stored exactly once, field for field, in batches of at most CONSUMER_BATCH_MAX', async () => {
  const events = Array.from({ length: 120 }, (_, i) =>
    exposure({ userId: `user-${i % 7}`, category: i % 3 === 0 ? null : `cat-${i % 3}`, via: i % 2 ? 'live' : 'offline' }),
  );
  await publish(topic, ...events);

  await waitFor(async () => (await storedCount(idsIn(events))) === events.length, { timeoutMs: 20_000, what: 'all events stored' });
  const page = await consumer.store.query({ limit: 1000 });
  const stored = page.items.filter((e) => idsIn(events).includes(e.eventId));
  const byId = (a: ExposureEvent, b: ExposureEvent) => a.eventId.localeCompare(b.eventId);
  expect(stored.sort(byId)).toEqual([...events].sort(byId));
  expect(await counterValue(consumer.metrics, 'herald_exposures_inserted_total')).toBeGreaterThanOrEqual(events.length);
  // 120 events with CONSUMER_BATCH_MAX=50 cannot have been written in fewer than 3 batches.
  expect(await histogramCount(consumer.metrics, 'herald_consumer_batch_seconds', { outcome: 'ok' })).toBeGreaterThanOrEqual(3);
});

test('reports its lag: the age of the oldest push in the last batch written', async () => {
  // One message, so one batch: the oldest is neither its first event nor its last, and one is ahead of the clock.
  const at = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();
  const [fresh, old, ahead] = [exposure({ deliveredAt: at(0) }), exposure({ deliveredAt: at(-5_000) }), exposure({ deliveredAt: at(3_600_000) })];
  await publishPacked(topic, [fresh, old, ahead], 3);
  await waitFor(async () => (await storedCount([fresh.eventId, old.eventId, ahead.eventId])) === 3, { timeoutMs: 20_000, what: 'the events stored' });
  const lag = await counterValue(consumer.metrics, 'herald_consumer_lag_seconds');
  expect(lag).toBeGreaterThanOrEqual(5);
  expect(lag).toBeLessThan(60);
});

test('ids holding text that Postgres array syntax gives a meaning to are stored field for field', async () => {
  // A batch goes to Postgres as one array per column; quotes, backslashes, braces, commas, blanks and
  // NULL must come back as they were sent.
  const awkward = ['a"b', 'back\\slash\\', '{x}', 'x,y', ' spaced ', 'NULL', 'null', 'ünï ☃ 𝄞', 'line\nbreak\ttab', '\\"', '"'];
  const events = awkward.map((text, i) => exposure({ eventId: `${text}-${i}`, messageId: text, sessionId: `s${text}`, gatewayId: text }));
  await publish(topic, ...events);
  await waitFor(async () => (await storedCount(idsIn(events))) === events.length, { what: 'the events stored' });
  const page = await consumer.store.query({ limit: 1000 });
  const stored = page.items.filter((e) => idsIn(events).includes(e.eventId));
  const byId = (a: ExposureEvent, b: ExposureEvent) => (a.eventId < b.eventId ? -1 : 1);
  expect(stored.sort(byId)).toEqual([...events].sort(byId));
});

test('the same eventId published three times is one row and two duplicates', async () => {
  const event = exposure();
  const duplicatesBefore = await counterValue(consumer.metrics, 'herald_exposures_duplicates_total');
  await publish(topic, event, event);
  await waitFor(async () => (await storedCount([event.eventId])) === 1, { what: 'the event stored' });
  await publish(topic, event);

  await waitFor(async () => (await counterValue(consumer.metrics, 'herald_exposures_duplicates_total')) === duplicatesBefore + 2, {
    what: 'two duplicates counted',
  });
  expect(await storedCount([event.eventId])).toBe(1);
});

test('poison messages go to dead_letters with a reason, are acknowledged, and never come back', async () => {
  const before = await countRows(db, 'SELECT 1 FROM dead_letters');
  const missingFields = JSON.stringify({ eventId: 'evt-poison-1' });
  const badDate = JSON.stringify({ ...exposure(), deliveredAt: 'yesterday' });
  const binary = Buffer.from([0x7b, 0x00, 0xff, 0xfe]);
  await publish(topic, 'not json at all', missingFields, '[1,2,3]', badDate, binary);
  const marker = exposure();
  await publish(topic, marker);

  await waitFor(async () => (await storedCount([marker.eventId])) === 1 && (await countRows(db, 'SELECT 1 FROM dead_letters')) === before + 5, {
    what: 'five dead letters and the marker event',
  });
  const { rows } = await db.query<{ data: string; reason: string; pubsub_message_id: string }>(
    'SELECT data, reason, pubsub_message_id FROM dead_letters ORDER BY id DESC LIMIT 5',
  );
  const reasonOf = (data: string) => rows.find((r) => r.data === data)?.reason;
  expect(reasonOf('not json at all')).toBe('body is not JSON');
  expect(reasonOf(missingFields)).toMatch(/messageId/);
  expect(reasonOf('[1,2,3]')).toBe('body is not a JSON object');
  expect(reasonOf(badDate)).toMatch(/deliveredAt/);
  expect(reasonOf(`base64:${binary.toString('base64')}`)).toBeDefined();
  expect(rows.every((r) => r.pubsub_message_id.length > 0)).toBe(true);
  expect(await counterValue(consumer.metrics, 'herald_exposures_dead_letter_total')).toBeGreaterThanOrEqual(5);

  // A message held or nacked instead of acknowledged would be redelivered to the next consumer.
  expect(await receivedAfterRestart()).toBe(1);
  expect(await countRows(db, 'SELECT 1 FROM dead_letters')).toBe(before + 5);
});

test('packed events are stored once each; a bad line is dead-lettered alone, a bad count the whole message; both acknowledged', async () => {
  const before = await countRows(db, 'SELECT 1 FROM dead_letters');
  const receivedBefore = await received();
  const good = Array.from({ length: 30 }, (_, i) => exposure({ userId: `packed-${i % 4}` }));
  await publishPacked(topic, good.slice(0, 10), 4);
  const lines = [...good.slice(10, 20).map((e) => JSON.stringify(e)), 'not json', ...good.slice(20).map((e) => JSON.stringify(e))];
  await topic.publishMessage({ data: Buffer.from(lines.join('\n')), attributes: { [EVENT_COUNT_ATTRIBUTE]: String(lines.length) } });
  const miscounted = [exposure(), exposure()];
  const miscountedData = miscounted.map((e) => JSON.stringify(e)).join('\n');
  await topic.publishMessage({ data: Buffer.from(miscountedData), attributes: { [EVENT_COUNT_ATTRIBUTE]: '3' } });

  await waitFor(async () => (await storedCount(idsIn(good))) === good.length && (await countRows(db, 'SELECT 1 FROM dead_letters')) === before + 2, {
    what: 'the 30 events stored and two dead letters',
  });
  const { rows } = await db.query<{ data: string; reason: string }>('SELECT data, reason FROM dead_letters ORDER BY id DESC LIMIT 2');
  expect(rows.find((r) => r.data === 'not json')?.reason).toBe('body is not JSON');
  expect(rows.find((r) => r.data === miscountedData)?.reason).toBe('the events attribute says 3 events, the data holds 2 lines');
  expect(await storedCount(idsIn(miscounted))).toBe(0);
  // 10 + 21 events, and the 3 the miscounted message claims.
  expect((await received()) - receivedBefore).toBe(10 + 21 + 3);

  // Each message acknowledged once all its events were settled: the next consumer gets only its marker.
  expect(await receivedAfterRestart()).toBe(1);
});

test('compressed packed messages are stored; an unknown encoding or data that is not raw DEFLATE is dead-lettered whole; all acknowledged', async () => {
  const before = await countRows(db, 'SELECT 1 FROM dead_letters');
  const receivedBefore = await received();
  const good = Array.from({ length: 120 }, (_, i) => exposure({ userId: `deflated-${i % 4}` }));
  const sent = await publishPacked(topic, good, 60, 'deflate');
  expect(sent.map((m) => m.attributes)).toEqual([0, 1].map(() => ({ [EVENT_COUNT_ATTRIBUTE]: '60', [EVENT_ENCODING_ATTRIBUTE]: 'deflate' })));
  const lost = [exposure(), exposure()];
  const lostData = Buffer.from(lost.map((e) => JSON.stringify(e)).join('\n'));
  await topic.publishMessage({ data: lostData, attributes: { [EVENT_COUNT_ATTRIBUTE]: '2', [EVENT_ENCODING_ATTRIBUTE]: 'gzip' } });
  await topic.publishMessage({ data: lostData, attributes: { [EVENT_COUNT_ATTRIBUTE]: '2', [EVENT_ENCODING_ATTRIBUTE]: 'deflate' } });

  await waitFor(async () => (await storedCount(idsIn(good))) === good.length && (await countRows(db, 'SELECT 1 FROM dead_letters')) === before + 2, {
    what: 'the 120 events stored and two dead letters',
  });
  const { rows } = await db.query<{ data: string; reason: string }>('SELECT data, reason FROM dead_letters ORDER BY id DESC LIMIT 2');
  expect(rows.map((r) => r.data)).toEqual([lostData.toString(), lostData.toString()]);
  const reasons = rows.map((r) => r.reason);
  expect(reasons.some((r) => r.includes('the encoding attribute "gzip" is not one Herald writes'))).toBe(true);
  expect(reasons.some((r) => r.includes('the data is not raw DEFLATE'))).toBe(true);
  expect(await storedCount(idsIn(lost))).toBe(0);
  expect((await received()) - receivedBefore).toBe(120 + 2 + 2);
  expect(await receivedAfterRestart()).toBe(1);
});

test('a message whose events span batches waits for all of them; one failed batch brings the whole message again, stored once', async () => {
  const local = configFor(backends, { EXPOSURE_TOPIC: 'exposures-spanning', EXPOSURE_SUBSCRIPTION: 'exposures-spanning-consumer', CONSUMER_BATCH_MAX: '50', CONSUMER_WRITE_CONCURRENCY: '1' });
  let writes = 0;
  const spanning = await startConsumer(local, {
    retryInitialMs: 20,
    retryMaxMs: 200,
    sink: (writer) => ({
      insertDeadLetter: (letter) => writer.insertDeadLetter(letter),
      async writeBatch(batch) {
        // The message's second batch fails once, after its first committed (one write at a time).
        if (++writes === 2) throw new Error('the second batch fails');
        return writer.writeBatch(batch);
      },
    }),
  });
  try {
    const events = Array.from({ length: 120 }, () => exposure());
    await publishPacked(backends.publisher.topic(local.EXPOSURE_TOPIC), events, 120);
    await waitFor(async () => (await storedCount(idsIn(events))) === events.length, { timeoutMs: 20_000, what: 'all 120 stored' });
    // Nacked at the failure and given again whole: the first batch's 50 come back as duplicates.
    await waitFor(async () => (await counterValue(spanning.metrics, 'herald_exposures_duplicates_total')) >= 50, { what: 'the first batch again' });
    expect(await received(spanning)).toBe(240);
    expect(await countRows(db, 'SELECT event_id FROM exposures WHERE event_id = ANY($1) GROUP BY event_id HAVING count(*) > 1', [idsIn(events)])).toBe(0);
  } finally {
    await spanning.close();
  }
});

test('a batch is acknowledged only after it committed: failed writes come back and land once the table is there', async () => {
  const events = Array.from({ length: 5 }, () => exposure());
  const receivedBefore = await received();
  const failuresBefore = await histogramCount(consumer.metrics, 'herald_consumer_batch_seconds', { outcome: 'error' });
  await db.query('ALTER TABLE exposures RENAME TO exposures_away');
  try {
    await publish(topic, ...events);
    // Every event delivered at least twice while writes fail: the failed batches were not acknowledged.
    await waitFor(
      async () =>
        (await received()) >= receivedBefore + 2 * events.length &&
        (await histogramCount(consumer.metrics, 'herald_consumer_batch_seconds', { outcome: 'error' })) >= failuresBefore + 2,
      { timeoutMs: 20_000, what: 'redeliveries after failed writes' },
    );
  } finally {
    await db.query('ALTER TABLE exposures_away RENAME TO exposures');
  }
  expect(await storedCount(idsIn(events))).toBe(0);

  await waitFor(async () => (await storedCount(idsIn(events))) === events.length, { timeoutMs: 20_000, what: 'events stored after recovery' });
  expect(await countRows(db, 'SELECT event_id FROM exposures WHERE event_id = ANY($1) GROUP BY event_id HAVING count(*) > 1', [idsIn(events)])).toBe(0);
});

test('close() writes and acknowledges the events still buffered', async () => {
  // A batch window far longer than the test: only close() can write these.
  const slowConfig = configFor(backends, { CONSUMER_BATCH_MAX: '1000', CONSUMER_BATCH_MAX_MS: '60000' });
  const slow = await startConsumer(slowConfig);
  const events = Array.from({ length: 3 }, () => exposure());
  let reopened: Consumer | undefined;
  try {
    await publish(backends.publisher.topic(slowConfig.EXPOSURE_TOPIC), ...events);
    await waitFor(async () => (await received(slow)) === events.length, { what: 'events received and buffered' });
    expect(await storedCount(idsIn(events))).toBe(0);

    await slow.close();
    expect(await storedCount(idsIn(events))).toBe(events.length);

    // Acknowledged means not redelivered: the next consumer on the subscription gets only the marker.
    reopened = await startConsumer(slowConfig);
    const marker = exposure();
    await publish(backends.publisher.topic(slowConfig.EXPOSURE_TOPIC), marker);
    await waitFor(async () => (await received(reopened)) >= 1, { what: 'the marker received' });
    await reopened.close();
    expect(await received(reopened)).toBe(1);
    expect(await storedCount([marker.eventId, ...idsIn(events)])).toBe(events.length + 1);
  } finally {
    await slow.close();
    await reopened?.close();
  }
});

test('writes up to CONSUMER_WRITE_CONCURRENCY batches at once, each event still exactly once', async () => {
  const local = configFor(backends, {
    EXPOSURE_TOPIC: 'exposures-concurrent',
    EXPOSURE_SUBSCRIPTION: 'exposures-concurrent-consumer',
    CONSUMER_BATCH_MAX: '50',
    CONSUMER_WRITE_CONCURRENCY: '3',
  });
  let inFlight = 0;
  let most = 0;
  const concurrent = await startConsumer(local, {
    sink: (writer) => ({
      insertDeadLetter: (letter) => writer.insertDeadLetter(letter),
      async writeBatch(batch) {
        inFlight++;
        most = Math.max(most, inFlight);
        try {
          // The first batch waits (up to 5 s) for a second one to start beside it.
          await waitFor(() => inFlight >= 2, { timeoutMs: 5_000, what: 'a second batch write' }).catch(() => undefined);
          return await writer.writeBatch(batch);
        } finally {
          inFlight--;
        }
      },
    }),
  });
  try {
    const events = Array.from({ length: 400 }, () => exposure());
    await publish(backends.publisher.topic(local.EXPOSURE_TOPIC), ...events);
    await waitFor(async () => (await storedCount(idsIn(events))) === events.length, { timeoutMs: 20_000, what: 'all events stored' });
    expect(most).toBeGreaterThanOrEqual(2);
    expect(most).toBeLessThanOrEqual(3);
    expect(await countRows(db, 'SELECT 1 FROM exposures WHERE event_id = ANY($1)', [idsIn(events)])).toBe(events.length);
  } finally {
    await concurrent.close();
  }
});
