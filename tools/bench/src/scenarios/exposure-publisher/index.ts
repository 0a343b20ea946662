/**
 * How fast the gateway's ExposurePublisher gets exposure events to a real Pub/Sub emulator, per
 * EXPOSURE_BATCH_MAX_MESSAGES × EXPOSURE_BATCH_MAX_MS (docs/BENCHMARKS.md, "Exposure publisher"):
 * a gateway process per setting, measured at its /metrics and at the topic (tally.ts), in three
 * phases: burst (an offline drain), paced (live, through ingest) and direct (the bench publishes
 * events of the same shape with the same batching itself).
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ensureSubscription } from '@herald/pubsub';
import { Fleet } from '../../fleet';
import { sampleGateway, untilExposuresPublished } from '../../metrics';
import { othersSeconds, type CpuSpent } from '../../procs';
import { summarize } from '../../report';
import { Rig, userIdsFor, wsUrlOf, type AppProcess } from '../../rig';
import { columns, type Row, type Scenario, type ScenarioContext } from '../../scenario';
import { sleep } from '../../watch';
import { exposureEvent } from '../../writes';
import { tallyExposures, type Tally, type TallyOf } from './tally';

type Mode = 'burst' | 'paced' | 'direct';
const MODES: readonly Mode[] = ['burst', 'paced', 'direct'];
/** Events the direct warm-up publishes before a round's first measurement (JIT of the emulator). */
const WARM_UP_EVENTS_MAX = 10_000;
/** Ingest's MAX_RECIPIENTS default (most users one message may name) and the inbox cap. */
const RECIPIENTS_MAX = 1000;
const MESSAGES_PER_USER_MAX = 1000;
/** Messages a second the paced phase sends ingest at most (each to many users), and in flight at most. */
const PACED_POSTS_PER_SEC = 100;
const PACED_MAX_IN_FLIGHT = 64;
const PRELOAD_CONCURRENCY = 16;

type Setting = { batchMessages: number; batchMs: number };

/** Message j goes to the first `recipients[j]` users (summing to `events`). */
type Phase = TallyOf & { rig: Rig; rate: number; setting: Setting; userIds: string[]; recipients: number[] };

/** cpuSeconds: of the publishing process (the gateway, or the bench for `direct`). */
type Measured = { cpuSeconds: number; cpu: CpuSpent; peakPending: number | null; spilled: number | null };

export const exposurePublisher: Scenario = {
  name: 'exposure-publisher',
  description:
    'gateway exposure events to a Pub/Sub emulator per EXPOSURE_BATCH_MAX_MESSAGES x EXPOSURE_BATCH_MAX_MS: ' +
    'throughput, CPU per event, peak pending, publish latency, exactly-once check',
  flags: {
    events: { kind: 'int', default: '50000', min: 1, description: 'exposure events per phase and setting' },
    'batch-messages': { kind: 'ints', default: '100,500,1000', min: 1, max: 1000, description: 'EXPOSURE_BATCH_MAX_MESSAGES values (comma-separated)' },
    'batch-ms': { kind: 'ints', default: '5,20,50', min: 1, max: 10_000, description: 'EXPOSURE_BATCH_MAX_MS values (comma-separated)' },
    'buffer-max': {
      kind: 'int', default: '1000000', min: 1, max: 1_000_000,
      description: "the gateway's EXPOSURE_BUFFER_MAX; the default (its largest) keeps a burst in memory, the product default 10000 makes a larger burst spill to Redis",
    },
    rate: { kind: 'int', default: '10000', min: 1, description: 'events per second of the paced phase' },
    modes: {
      kind: 'words', default: MODES.join(','), choices: MODES,
      description: 'burst (offline drain, as fast as record() is called), paced (live at --rate), direct (no gateway)',
    },
  },
  columns: columns(
    'mode', ['batchMessages', 'batch msgs'], ['batchMs', 'batch ms'], ['eventsPerSec', 'events/s'],
    ['recordsPerSec', 'record()/s'], ['cpuUsPerEvent', 'CPU µs/event', 1], ['publisherCpuPct', 'proc CPU %'],
    ['emulatorCpuPct', 'emulator CPU %'], ['otherCpuPct', 'others CPU %'], ['peakPending', 'peak pending'], 'spilled',
    ['p50Ms', 'p50 ms', 1], ['p99Ms', 'p99 ms', 1], 'delivered', ['exactlyOnce', 'once'],
  ),
  run: (ctx) => Rig.run(ctx, (rig, runTag) => run(ctx, rig, runTag)),
};

async function run(ctx: ScenarioContext, rig: Rig, runTag: string): Promise<Row[]> {
  const { flags, progress } = ctx;
  const [events, rate] = [flags.int('events'), flags.int('rate')];
  const modes = flags.words('modes') as Mode[];
  const settings = flags.ints('batch-messages').flatMap((batchMessages) => flags.ints('batch-ms').map((batchMs) => ({ batchMessages, batchMs })));
  const { client } = await rig.pubsub();
  /** A phase on `topic`, its tally subscription made before anything is published. */
  const phase = async (topic: string, mode: Mode, setting: Setting, count: number, say: (line: string) => void): Promise<Phase> => {
    await ensureSubscription(client, topic, `${topic}-tally`, 60);
    // Enough users that ingest gets at most PACED_POSTS_PER_SEC messages a second when paced.
    const minUsers = mode === 'paced' ? Math.ceil(rate / PACED_POSTS_PER_SEC) : 1;
    const users = Math.min(count, Math.max(minUsers, Math.ceil(count / MESSAGES_PER_USER_MAX)), RECIPIENTS_MAX);
    const recipients: number[] = [];
    for (let left = count; left > 0; left -= users) recipients.push(Math.min(users, left));
    const prefix = `${topic}-${mode}-`;
    return { rig, topic, events: count, rate, setting, userIds: userIdsFor(prefix, users), recipients, prefix, signal: ctx.signal, progress: say };
  };
  const drop = async (topic: string) => (await client.subscription(`${topic}-tally`).delete(), await client.topic(topic).delete());

  const warmTopic = `bench-${runTag}-warm-up`;
  await runDirect(await phase(warmTopic, 'direct', settings[0], Math.min(events, WARM_UP_EVENTS_MAX), (line) => progress(`warm-up ${line}`)));
  await drop(warmTopic);
  const rows: Row[] = [];
  for (const setting of settings) {
    const topic = `bench-${runTag}-${setting.batchMessages}-${setting.batchMs}`;
    const say = (line: string) => progress(`batch ${setting.batchMessages} msgs / ${setting.batchMs} ms: ${line}`);
    const measured = (mode: Mode, row: Row) => {
      say(`${mode}: ${summarize(exposurePublisher.columns, row)}`);
      rows.push(row);
    };
    const gatewayModes = modes.filter((m): m is 'burst' | 'paced' => m !== 'direct');
    if (gatewayModes.length > 0) {
      await ensureSubscription(client, topic, `${topic}-tally`, 60);
      const gateway = await rig.startGateway({
        EXPOSURE_TOPIC: topic,
        EXPOSURE_BATCH_MAX_MESSAGES: String(setting.batchMessages),
        EXPOSURE_BATCH_MAX_MS: String(setting.batchMs),
        EXPOSURE_BUFFER_MAX: String(flags.int('buffer-max')),
      });
      for (const mode of gatewayModes) measured(mode, await runGateway(await phase(topic, mode, setting, events, say), mode, gateway));
      await gateway.stop();
      await drop(topic);
    }
    if (modes.includes('direct')) {
      measured('direct', await runDirect(await phase(`${topic}-direct`, 'direct', setting, events, say)));
      await drop(`${topic}-direct`);
    }
  }
  return rows;
}

/**
 * burst: load the inboxes, then connect (the drain is the load); paced: connect, then send at the
 * rate. Sample the gateway until every event is published, then until every client has its messages.
 */
async function runGateway(phase: Phase, mode: 'burst' | 'paced', gateway: AppProcess): Promise<Row> {
  const { rig, userIds, signal, progress } = phase;
  if (mode === 'burst') {
    progress(`burst: loading ${phase.events} exposures' worth of messages into ${userIds.length} offline inboxes`);
    await sendMessages(phase, PRELOAD_CONCURRENCY, () => 0);
  }
  const fleet = await Fleet.start(rig, 1);
  const open = { herald: true, urls: [wsUrlOf(gateway)], credentials: await rig.userTokens(userIds), ack: false };
  if (mode === 'paced') await fleet.connect(open, signal);
  const baseline = await sampleGateway(gateway.adminUrl);
  const window = rig.cpuWindow({ gateway: [gateway.pid], clients: fleet.pids, ingest: [(await rig.ingest()).pid] });
  const check = async () => {
    const stats = await fleet.stats();
    if (stats.closed > 0 || stats.unexpected > 0) throw new Error(`a client was closed or got an unexpected frame: ${stats.lastError ?? ''}`);
  };
  const watching = untilExposuresPublished(gateway.adminUrl, baseline.taken + phase.events, { stallMs: 30_000, intervalMs: 100, signal, report: progress, check });
  watching.catch(() => undefined); // awaited below; a failed drive must not leave it unobserved
  progress(mode === 'burst' ? `burst: ${userIds.length} users connect; the gateway drains and publishes` : `paced: ${phase.events} events at ${phase.rate}/s through ingest to ${userIds.length} connected users`);
  if (mode === 'burst') await fleet.open(open);
  else {
    // Message j goes when its first event is due at `rate` events per second.
    const dueMs: number[] = [];
    for (let j = 0, due = 0; j < phase.recipients.length; due += phase.recipients[j++]) dueMs.push((due / phase.rate) * 1000);
    const started = performance.now();
    await sendMessages(phase, PACED_MAX_IN_FLIGHT, (j) => dueMs[j] - (performance.now() - started));
  }
  const watched = await watching;
  if (watched.stalled) throw new Error(`the gateway stalled at ${watched.last.taken - baseline.taken}/${phase.events} exposures published`);
  const cpu = window.stop();
  await fleet.untilReceived(phase.events, { stallMs: 30_000, signal });
  const measured = { cpuSeconds: watched.last.cpuSeconds - baseline.cpuSeconds, cpu, peakPending: watched.peakPending, spilled: watched.last.spilled - baseline.spilled };
  const row = toRow(mode, phase, await tallyExposures((await rig.pubsub()).client, phase), measured, watched.wallMs);
  await fleet.close();
  return row;
}

async function runDirect(phase: Phase): Promise<Row> {
  const { rig, userIds, signal } = phase;
  const sessions = userIds.map(() => randomUUID());
  const { client } = await rig.pubsub();
  const topic = client.topic(phase.topic, { batching: { maxMessages: phase.setting.batchMessages, maxMilliseconds: phase.setting.batchMs } });
  phase.progress(`direct: the bench publishes ${phase.events} events itself`);
  const cpuBefore = process.cpuUsage();
  const window = rig.cpuWindow({});
  const started = performance.now();
  const publishes: Array<Promise<string>> = [];
  for (let i = 0; i < phase.events; i++) {
    // Yield to the event loop now and then, as the gateway does between pushes.
    if (i > 0 && i % 1000 === 0) await new Promise((resolve) => setImmediate(resolve));
    signal.throwIfAborted();
    publishes.push(topic.publishMessage({ data: exposureEvent(userIds[i % userIds.length], sessions[i % userIds.length], 'bench-direct') }));
  }
  const failed = (await Promise.allSettled(publishes)).filter((r) => r.status === 'rejected').length;
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const spent = window.stop();
  if (failed > 0) phase.progress(`direct: ${failed} publishes failed`);
  await topic.flush();
  return toRow('direct', phase, await tallyExposures(client, phase), { cpuSeconds: (cpu.user + cpu.system) / 1e6, cpu: spent, peakPending: null, spilled: null }, wallMs);
}

/** The phase's messages through ingest, `concurrency` at once, message j after `waitMs(j)`. */
async function sendMessages(phase: Phase, concurrency: number, waitMs: (j: number) => number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < phase.recipients.length) {
      const j = next++;
      const wait = waitMs(j);
      if (wait > 1) await sleep(wait, phase.signal);
      phase.signal.throwIfAborted();
      await phase.rig.postMessage({ userIds: phase.userIds.slice(0, phase.recipients[j]), payload: { text: 'bench message', n: j } });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

function toRow(mode: Mode, phase: Phase, tally: Tally, measured: Measured, wallMs: number): Row {
  const seconds = (fromUs: number, toUs: number) => Math.max(toUs - fromUs, 1) / 1e6;
  const pct = (cpuSeconds: number | undefined) => (cpuSeconds === undefined ? null : (cpuSeconds / (wallMs / 1000)) * 100);
  return {
    mode, batchMessages: phase.setting.batchMessages, batchMs: phase.setting.batchMs, events: phase.events,
    eventsPerSec: tally.delivered > 0 ? tally.delivered / seconds(tally.firstRecordedUs, tally.lastPublishedUs) : 0,
    recordsPerSec: tally.delivered > 0 ? tally.delivered / seconds(tally.firstRecordedUs, tally.lastRecordedUs) : 0,
    cpuUsPerEvent: (measured.cpuSeconds * 1e6) / phase.events, publisherCpuPct: pct(measured.cpuSeconds),
    emulatorCpuPct: pct(measured.cpu.groups.emulator), otherCpuPct: pct(othersSeconds(measured.cpu)),
    peakPending: measured.peakPending, spilled: measured.spilled, p50Ms: tally.latency.p50Ms, p99Ms: tally.latency.p99Ms,
    maxMs: tally.latency.maxMs, delivered: tally.delivered, duplicates: tally.duplicates, redeliveries: tally.redeliveries,
    strays: tally.strays, exactlyOnce: tally.delivered === phase.events && tally.duplicates === 0,
  };
}
