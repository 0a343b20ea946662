/**
 * An open-loop sender process (protocol.ts `openLoop`): at a fixed rate, whatever downstream
 * does, it sends to users round-robin.
 * - herald: a message per send, written to Redis the way ingest writes it (writes.ts), payload
 *   `{"t":<scheduled send time, epoch ms>,"s":<the user's sequence number>}`; a message sent late
 *   carries its scheduled time all the same, so a stall anywhere shows as latency.
 * - baseline: the same frame PUBLISHed on the user's baseline channel.
 * - socketio: the same frame as a `message` event to the user's room through
 *   @socket.io/redis-emitter (one PUBLISH; done once issued, as the emitter confirms nothing).
 * - exposures: an exposure event of the gateway's shape published to a Pub/Sub topic as the
 *   gateway publishes (no gateway, no Redis here): gathered by the gateway's batch settings, each
 *   batch one call (@herald/pubsub BatchPublisher), its events packed `eventsPerMessage` to a
 *   message (packEvents); with `mixEvery` N > 0, one event in N of a user is instead an
 *   engagement, loss or `sent` about the message it was last delivered.
 */
import { randomUUID } from 'node:crypto';
import { BatchPublisher, createPubSub, packEvents, type EventCompression, type OutgoingEvent } from '@herald/pubsub';
import { createRedis, type HeraldRedis } from '@herald/redis';
import { Emitter } from '@socket.io/redis-emitter';
import { baselineChannel, baselineFrame, exposureEvent, messageFrame, OTHER_KINDS, otherEvent, socketioRoom, writeMessage } from '../writes';
import { openLoop, serveRequests } from './protocol';

export type SenderSetup =
  | { type: 'setup'; kind: 'herald' | 'baseline' | 'socketio'; redisUrl: string; userIds: string[]; ttlSeconds: number }
  // gatewayId: the events' own, how this source's rows are told apart.
  | { type: 'setup'; kind: 'exposures'; emulatorHost: string; projectId: string; topic: string; gatewayId: string; userIds: string[]; batchMessages: number; batchMs: number; mixEvery: number; eventsPerMessage: number; compression: EventCompression };
export type SenderRequest = SenderSetup | { type: 'run'; rate: number; seconds: number };

let send: ((at: number, done: (err?: unknown) => void) => void) | undefined;

async function setup(request: SenderSetup): Promise<void> {
  const { userIds } = request;
  /** Both carry over from run to run. */
  const seq = new Uint32Array(userIds.length);
  let next = -1;
  const nextUser = () => (next = (next + 1) % userIds.length);
  if (request.kind === 'exposures') {
    const sessions = userIds.map(() => randomUUID());
    const pubsub = createPubSub({ PUBSUB_PROJECT_ID: request.projectId, PUBSUB_EMULATOR_HOST: request.emulatorHost });
    const publisher = new BatchPublisher(pubsub, request.topic);
    /** Per user: the message it was last delivered (what its other kinds are about). */
    const lastMessage = userIds.map(() => randomUUID());
    let batch: OutgoingEvent[] = [];
    let dones: Array<(err?: unknown) => void> = [];
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
      clearTimeout(timer);
      timer = undefined;
      const [events, callbacks] = [batch, dones];
      [batch, dones] = [[], []];
      publisher.publish(packEvents(events, request.eventsPerMessage, request.compression)).then(
        () => callbacks.forEach((done) => done()),
        (err: unknown) => callbacks.forEach((done) => done(err)),
      );
    };
    send = (_at, done) => {
      const user = nextUser();
      const [n, every] = [seq[user]++, request.mixEvery];
      // Once per `every` events of a user, offset by user so that every second mixes both; never a user's first.
      const other = every > 0 && n > 0 && (n + user) % every === every - 1;
      if (other) {
        const kind = OTHER_KINDS[Math.floor((n + user) / every) % OTHER_KINDS.length];
        batch.push({ data: otherEvent(kind, lastMessage[user], userIds[user], sessions[user], request.gatewayId).data.toString(), kind });
      } else {
        lastMessage[user] = randomUUID();
        batch.push({ data: exposureEvent(userIds[user], sessions[user], request.gatewayId, lastMessage[user]).toString() });
      }
      dones.push(done);
      if (batch.length >= request.batchMessages) flush();
      else timer ??= setTimeout(flush, request.batchMs);
    };
    return;
  }
  const redis: HeraldRedis = createRedis({ REDIS_URL: request.redisUrl, REDIS_CLUSTER_NODES: undefined }, 'commands', 'bench-producer');
  if (request.kind === 'socketio') {
    const emitter = new Emitter(redis);
    send = (at, done) => {
      const user = nextUser();
      emitter.to(socketioRoom(userIds[user])).emit('message', messageFrame({ t: at, s: seq[user]++ }));
      done();
    };
    return void (await redis.ping());
  }
  send = (at, done) => {
    const user = nextUser();
    const payload = { t: at, s: seq[user]++ };
    const herald = request.kind === 'herald';
    const written = herald ? writeMessage(redis, [userIds[user]], payload, request.ttlSeconds * 1000) : redis.publish(baselineChannel(userIds[user]), baselineFrame(payload));
    written.then(() => done(), done);
  };
  await redis.ping();
}

serveRequests(async (request: SenderRequest) => {
  if (request.type === 'setup') return setup(request);
  if (!send) throw new Error('run before setup');
  return openLoop(request.rate, request.seconds, send);
});
