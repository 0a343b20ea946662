/**
 * The analyst API of a consumer over a private Postgres seeded through the store, shared by the
 * tests of a spec file (no Pub/Sub: the seed is written directly).
 */
import { startPostgres, type TestPostgres } from '@herald/testing';
import type { ExposureEvent } from '@herald/types';
import type { EventBatch } from '../../src/ingest/consumer-event';
import { buildConsumer, type Consumer } from '../../src/app';
import { silentLogger, testConfig } from './fixtures';

export interface AnalystApi {
  postgres: TestPostgres;
  /** Built, ready and marked ready; not listening (app.inject), unless a test listens. */
  consumer: Consumer;
}

/**
 * Started before the first test of the file with `events` stored (and `others`, events of the other kinds), closed after the last (the
 * consumer, then Postgres). The object returned is filled in by that beforeAll, so read it inside
 * tests and hooks only.
 */
export function sharedAnalystApi(events: ExposureEvent[], others: Partial<EventBatch> = {}): AnalystApi {
  const api = {} as AnalystApi;
  beforeAll(async () => {
    api.postgres = await startPostgres();
    api.consumer = await buildConsumer({ config: testConfig({ databaseUrl: api.postgres.url }), logger: silentLogger });
    await api.consumer.app.ready();
    api.consumer.setReady(true);
    await api.consumer.store.insertBatch(events);
    await api.consumer.writer.writeBatch({ exposures: [], engagements: [], losses: [], messages: [], webpush: [], ...others });
  });
  afterAll(async () => {
    await api.consumer?.close();
    await api.postgres?.stop();
  });
  return api;
}
