/**
 * The `direct` source of exposure-pipeline, a process of its own: it publishes exposure events to
 * the topic itself, open loop at a fixed rate (event i at start + i/rate whatever happens
 * downstream), in the gateway's shape (apps/gateway ExposurePublisher.record(): a fresh eventId,
 * `deliveredAt` stamped when the event is made) and with the gateway's client batching. Without a
 * gateway, its clients and Redis on the CPU, what is measured is the consumer → Postgres leg.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { PubSub, Topic } from '@google-cloud/pubsub';
import { createPubSub } from '@herald/pubsub';
import type { ExposureEvent } from '@herald/types';
import { serveRequests } from '../live-push/worker-ipc';
import type { PublisherReply, PublisherRequest, PublisherRun, PublisherSetup } from './publisher-protocol';

/** The timer between publishing steps; each step publishes every event that has come due. */
const STEP_MS = 1;

let setup: PublisherSetup | undefined;
let pubsub: PubSub | undefined;
let topic: Topic | undefined;
let sessions: string[] = [];
/** The next user; carries over from run to run. */
let nextUser = 0;

const nowMs = (): number => performance.timeOrigin + performance.now();

function eventFor(user: number): Buffer {
  const event: ExposureEvent = {
    eventId: randomUUID(),
    messageId: randomUUID(),
    userId: `${setup!.userPrefix}${user}`,
    category: null,
    sessionId: sessions[user],
    gatewayId: setup!.gatewayId,
    deliveredAt: new Date().toISOString(),
    via: 'live',
  };
  return Buffer.from(JSON.stringify(event));
}

function run(request: PublisherRun): Promise<PublisherReply> {
  const total = Math.round(request.rate * request.seconds);
  const interval = 1000 / request.rate;
  const reply: PublisherReply = { events: 0, published: 0, failed: 0, firstError: null, startedAtMs: nowMs(), maxLagMs: 0 };
  let settled = 0;
  return new Promise((resolve) => {
    const finishIfDone = () => {
      if (reply.events === total && settled === total) resolve(reply);
    };
    const onPublished = () => {
      reply.published++;
      settled++;
      finishIfDone();
    };
    const onFailed = (err: unknown) => {
      reply.failed++;
      reply.firstError ??= err instanceof Error ? err.message : String(err);
      settled++;
      finishIfDone();
    };
    const step = () => {
      const now = nowMs();
      const due = Math.min(total, Math.floor((now - reply.startedAtMs) / interval) + 1);
      if (reply.events < due) reply.maxLagMs = Math.max(reply.maxLagMs, now - (reply.startedAtMs + reply.events * interval));
      for (; reply.events < due; reply.events++) {
        const user = nextUser;
        nextUser = (nextUser + 1) % setup!.users;
        topic!.publishMessage({ data: eventFor(user) }).then(onPublished, onFailed);
      }
      if (reply.events < total) setTimeout(step, STEP_MS);
      else finishIfDone();
    };
    step();
  });
}

serveRequests(async (body) => {
  const request = body as PublisherRequest;
  switch (request.type) {
    case 'setup':
      setup = request;
      sessions = Array.from({ length: request.users }, () => randomUUID());
      nextUser = 0;
      pubsub = createPubSub({ PUBSUB_PROJECT_ID: request.projectId, PUBSUB_EMULATOR_HOST: request.emulatorHost });
      topic = pubsub.topic(request.topic, { batching: { maxMessages: request.batchMessages, maxMilliseconds: request.batchMs } });
      return null;
    case 'run':
      if (!topic) throw new Error('run before setup');
      return run(request);
    case 'close':
      await topic?.flush();
      await pubsub?.close();
      return null;
  }
});
