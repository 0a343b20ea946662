/**
 * The open-loop producer of live-push, a process of its own: at a fixed rate, whatever the
 * gateway does, it sends message i at its scheduled time start + i/rate, to users round-robin,
 * with that scheduled time in the payload (`t`). A message sent late carries its scheduled time
 * all the same, so a stall anywhere shows as latency instead of as a slower sender (no
 * coordinated omission).
 *
 * Herald: written to Redis the way ingest writes a message to users (storeMessage, then the
 * atomic deliver script with the body inside the notification), on an auto-pipelined commands
 * connection. Baseline: the same frame PUBLISHed on the user's channel.
 */
import { randomUUID } from 'node:crypto';
import { closeRedis, createRedis, deliverToUser, messageNote, storeMessage, type HeraldRedis } from '@herald/redis';
import { INBOX_DEFAULT_CAP, type Message, type MessageFrame } from '@herald/types';
import { baselineChannels } from '../../baseline/channels';
import type { PushPayload } from './client-protocol';
import { nowMs } from './latency';
import type { ProducerRequest, RunReply, RunRequest, SetupRequest } from './producer-protocol';
import { serveRequests } from './worker-ipc';

/** The timer between sending steps; each step sends every message that has come due. */
const STEP_MS = 1;

let setup: SetupRequest | undefined;
let redis: HeraldRedis | undefined;
/** Next sequence number per user, and the next user; both carry over from run to run. */
let seq = new Uint32Array(0);
let nextUser = 0;

function send(at: number, done: (err?: unknown) => void): void {
  const { target, userIds, ttlSeconds } = setup!;
  const user = nextUser;
  nextUser = (nextUser + 1) % userIds.length;
  const userId = userIds[user];
  const payload: PushPayload = { t: at, s: seq[user]++ };
  const id = randomUUID();
  const now = Date.now();
  const createdAt = new Date(now).toISOString();
  if (target === 'herald') {
    const message: Message = { id, category: null, payload, createdAt, expiresAt: now + ttlSeconds * 1000 };
    storeMessage(redis!, message)
      .then((encoded) => deliverToUser(redis!, userId, id, messageNote(encoded), { cap: INBOX_DEFAULT_CAP, inboxTtlSeconds: ttlSeconds }))
      .then(() => done(), done);
  } else {
    const frame: MessageFrame = { type: 'message', id, category: null, payload, createdAt };
    redis!.publish(baselineChannels.user(userId), JSON.stringify(frame)).then(() => done(), done);
  }
}

function run(request: RunRequest): Promise<RunReply> {
  const total = Math.round(request.rate * request.seconds);
  const interval = 1000 / request.rate;
  const reply: RunReply = { sent: 0, failed: 0, firstError: null, startedAtMs: nowMs(), settledAtMs: 0, maxLagMs: 0 };
  let issued = 0;
  let inFlight = 0;
  return new Promise((resolve) => {
    const finishIfDone = () => {
      if (issued < total || inFlight > 0) return;
      reply.settledAtMs = nowMs();
      resolve(reply);
    };
    const done = (err?: unknown) => {
      inFlight--;
      if (err === undefined) reply.sent++;
      else {
        reply.failed++;
        reply.firstError ??= err instanceof Error ? err.message : String(err);
      }
      finishIfDone();
    };
    const step = () => {
      const now = nowMs();
      const due = Math.min(total, Math.floor((now - reply.startedAtMs) / interval) + 1);
      if (issued < due) reply.maxLagMs = Math.max(reply.maxLagMs, now - (reply.startedAtMs + issued * interval));
      for (; issued < due; issued++) {
        inFlight++;
        send(reply.startedAtMs + issued * interval, done);
      }
      if (issued < total) setTimeout(step, STEP_MS);
      else finishIfDone();
    };
    step();
  });
}

serveRequests(async (body) => {
  const request = body as ProducerRequest;
  switch (request.type) {
    case 'setup':
      setup = request;
      seq = new Uint32Array(request.userIds.length);
      nextUser = 0;
      redis = createRedis({ REDIS_URL: request.redisUrl, REDIS_CLUSTER_NODES: undefined }, 'commands', 'bench-producer');
      await redis.ping();
      return null;
    case 'run':
      if (!setup) throw new Error('run before setup');
      return run(request);
    case 'close':
      if (redis) await closeRedis(redis);
      return null;
  }
});
