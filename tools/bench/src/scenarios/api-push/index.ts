/**
 * Push through the API, open loop at a list of rates: a producer process → ingest's
 * `POST /v1/messages` (one message a request) or `POST /v1/messages/batch` → Redis → one Herald
 * gateway → clients acking every message, with the rest of the stack as `npm run dev` runs it
 * (exposures on, the exposure-consumer storing them in Postgres: stack.ts). In the same round, at
 * the same rates and with the same clients, the Socket.IO baseline (an emitter as producer) and the
 * raw `ws` one (a PUBLISH per message): they have no API, so their producers write to Redis
 * (workers/sender.ts). Per rate: loss, latency (arrival − scheduled send), Herald's answer latency
 * (ingest's 2xx − scheduled send) and CPU per delivered message of every process, and the
 * consumer's per stored event (docs/BENCHMARKS.md). `outOfOrder` through the API counts a user's
 * messages whose requests were in flight together and were taken in the other order: HTTP
 * requests on several connections carry no order between them.
 */
import { cpuPct, cpuUsPer, othersSeconds } from '../../procs';
import { measurePush, PUSH_FLAGS, runTargets, senderKind, sharedCpuNote, startTarget, withProducerLag, type Target } from '../../push';
import { latencyOf, summarize } from '../../report';
import { userIdsFor, type Rig } from '../../rig';
import { columns, type Row, type Scenario, type ScenarioContext } from '../../scenario';
import type { OpenLoopReply } from '../../workers/protocol';
import { checkBatchEndpoint, startApiProducer, startStack, untilStored } from './stack';

/** Herald's message bodies outlive the run by little. */
const MESSAGE_TTL_SECONDS = 600;
/** After the last message arrived: acks and the last exposure batch (and, for Herald, until stored), inside the CPU window. */
const SETTLE_MS = 250;
/** Arrivals stalled this long: the missing messages count as lost. */
const STALL_MS = 5000;
/** Per-process CPU µs per delivered message: row key → CPU group (rig.cpuWindow); load: clients and producer; bench: this process. */
const PER_PROCESS = { serverUs: 'server', ingestUs: 'ingest', consumerUs: 'consumer', redisUs: 'redis', emulatorUs: 'emulator', postgresUs: 'postgres', loadUs: 'load', benchUs: 'bench' };

export const apiPush: Scenario = {
  name: 'api-push',
  description: [
    'open-loop push through ingest (POST /v1/messages, or /batch) to clients that ack, whole stack running (exposures stored in Postgres),',
    'at each --rates, vs Socket.IO 4 + redis-adapter and a raw ws server at the same rates: loss, p50/p99/max, CPU per message per process',
  ].join(' '),
  flags: {
    rates: { kind: 'ints', default: '500,1000,2000,5000,10000', min: 1, max: 1_000_000, description: 'messages per second (each to one user), one measurement each' },
    mode: { kind: 'words', default: 'single,batch', choices: ['single', 'batch'], description: "Herald's producer: single requests, batches or both" },
    online: { kind: 'int', default: '5000', min: 1, max: 250_000, description: 'connected clients, one user each' },
    seconds: { kind: 'int', default: '10', min: 1, max: 600, description: 'seconds of sending measured at each rate' },
    warmup: { kind: 'int', default: '15', min: 0, max: 60, description: 'seconds of sending at the first rate before measuring, per producer: long enough for V8 to have compiled the hot code, as in a server that has run a while (README.md)' },
    'batch-size': { kind: 'int', default: '100', min: 1, max: 500, description: 'batch mode: messages per request at most' },
    'batch-ms': { kind: 'int', default: '10', min: 1, max: 10_000, description: 'batch mode: how long a batch waits for more messages after its first' },
    connections: { kind: 'int', default: '64', min: 1, max: 4096, description: "the producer's keep-alive connections to ingest at most" },
    ...PUSH_FLAGS,
    target: { ...PUSH_FLAGS.target, default: 'herald,socketio,ws' },
  },
  columns: columns(
    'target', 'mode', 'rate', 'sent', 'received', 'lost', ['p50Ms', 'p50 ms', 1], ['p99Ms', 'p99 ms', 1], ['maxMs', 'max ms', 1],
    ['answerP50Ms', 'answer p50 ms', 1], ['answerP99Ms', 'answer p99 ms', 1],
    ['serverUs', 'server µs/msg', 1], ['ingestUs', 'ingest µs', 1], ['consumerUs', 'consumer µs', 1], ['consumerUsPerEvent', 'consumer µs/ev', 1], ['redisUs', 'Redis µs', 1],
    ['emulatorUs', 'emulator µs', 1], ['postgresUs', 'PG µs', 1], ['loadUs', 'load gen µs', 1], ['cpuX', 'server ×ws', 2],
    ['cpuXSio', 'server ×sio', 2], ['cpuXAck', 'server ×ws-ack', 2], ['p99X', 'p99 ×ws', 2], ['p99XSio', 'p99 ×sio', 2], ['machineCpuPct', 'machine CPU %'],
    ['otherCpuPct', 'others CPU %'], 'stored', 'storedEvents', ['producerLagMs', 'producer lag ms', 1], 'notes',
  ),
  run: (ctx) => runTargets(ctx, runTarget, { cpuX: 'serverUs', p99X: 'p99Ms' }, (herald, peer) => herald.rate === peer.rate),
};

async function runTarget(ctx: ScenarioContext, rig: Rig, target: Target, tag: string): Promise<Row[]> {
  const { flags, progress } = ctx;
  const [online, seconds, warmup] = ['online', 'seconds', 'warmup'].map((name) => flags.int(name));
  const userIds = userIdsFor(`ap-${tag}-`, online);
  const topic = `bench-api-${tag}`;
  const stack = target === 'herald' ? await startStack(rig, topic) : undefined;
  if (stack) ctx.parameter('postgres', stack.postgresKind);
  const modes = stack ? (flags.words('mode') as Array<'single' | 'batch'>) : [target === 'socketio' ? 'emitter' : 'publish'];
  if (stack && modes.includes('batch')) await checkBatchEndpoint(stack.ingest.url, rig.producerToken);
  progress(`connecting ${online} clients`);
  const push = await startTarget(rig, target, topic, userIds, flags.int('client-procs'));
  progress(`${online} clients connected in ${push.connectSeconds.toFixed(1)} s (${push.connectRetries} retries)`);
  const notes = sharedCpuNote(
    target,
    `gateway, ingest, exposure-consumer, Postgres, Redis, Pub/Sub emulator, producer, ${push.fleet.pids.length} client procs`,
    `baseline server, Redis, producer, ${push.fleet.pids.length} client procs (emulator idle)`,
  );
  const rows: Row[] = [];
  for (const mode of modes) {
    const batches = { batchSize: flags.int('batch-size'), batchMs: flags.int('batch-ms'), connections: flags.int('connections') };
    const producer =
      stack && (mode === 'single' || mode === 'batch')
        ? await startApiProducer(rig, stack.ingest.url, mode, userIds, MESSAGE_TTL_SECONDS, batches)
        : await rig.startSender(`${target} producer`, { type: 'setup', kind: senderKind(target), redisUrl: rig.redis.url, userIds, ttlSeconds: MESSAGE_TTL_SECONDS });
    const groups = { ...stack?.cpuGroups, load: [...push.fleet.pids, producer.pid] };
    const measure = async (rate: number, s: number) => {
      let sent: OpenLoopReply | undefined;
      const before = stack ? await stack.counts() : { exposures: 0, events: 0 };
      const settled = stack && (async () => untilStored(stack.stored, before.exposures + (sent?.done ?? 0), rig.signal));
      const send = async () => (sent = await producer.run(rate, s)).done;
      const measured = await measurePush(rig, push, groups, send, { stallMs: STALL_MS, settleMs: SETTLE_MS, report: progress, settled });
      const after = stack && (await stack.counts());
      return { ...measured, sent: sent!, stored: after ? after.exposures - before.exposures : null, storedEvents: after ? after.events - before.events : null };
    };
    if (warmup > 0) {
      progress(`${mode}: warm-up, ${warmup} s at ${flags.ints('rates')[0]}/s`);
      (await measure(flags.ints('rates')[0], warmup)).received.histogram?.destroy();
    }
    for (const rate of flags.ints('rates')) {
      progress(`${mode}: ${rate}/s for ${seconds} s to ${online} users`);
      const { cpu, received, sent, stored, storedEvents, exposures } = await measure(rate, seconds);
      const latency = latencyOf(received.histogram!);
      const row: Row = {
        target, mode, rate, seconds, online, sent: sent.done, failed: sent.failed, received: received.messages,
        lost: Math.max(0, sent.sent - received.messages), outOfOrder: received.outOfOrder, closed: received.closed,
        p50Ms: latency.p50Ms, p99Ms: latency.p99Ms, maxMs: latency.maxMs,
        ...Object.fromEntries(Object.entries(PER_PROCESS).map(([key, group]) => [key, cpuUsPer(cpu.groups[group], received.messages)])),
        // Issue 15's consumer figure is per stored event: a message through the API stores two (its exposure, ingest's `sent` record).
        consumerUsPerEvent: storedEvents === null ? null : cpuUsPer(cpu.groups.consumer, storedEvents),
        machineCpuPct: cpuPct(cpu.machine, cpu), otherCpuPct: cpuPct(othersSeconds(cpu), cpu), cpuWindowSeconds: cpu.wallSeconds,
        exposures, stored, storedEvents, producerLagMs: sent.maxLagMs, answerP50Ms: sent.answerP50Ms ?? null, answerP99Ms: sent.answerP99Ms ?? null,
        notes: withProducerLag(notes, sent.maxLagMs),
      };
      progress(summarize(apiPush.columns.slice(1, 20), row));
      rows.push(row);
    }
    await producer.stop();
  }
  await push.stop();
  return rows;
}
