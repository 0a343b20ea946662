/**
 * The exposure pipeline end to end: events made at an open-loop rate, published to a Pub/Sub
 * emulator, pulled by a real exposure-consumer process and written to Postgres. Issue 6's target:
 * ≥ 20k events/s sustained, 0 lost.
 *
 * Per source (source.ts: `gateway`, the product's path, or `direct`, the consumer → Postgres leg
 * alone) a fresh Postgres and consumer (pipeline.ts) are started, a warm-up runs at the rate, then
 * the measured run. The bench waits until the consumer has stored every published event (or stops
 * moving), then reads the rows back from Postgres (store-tally.ts): counted there, not trusted
 * from the consumer's counters. Lost = events made − distinct events stored; the timing comes
 * from the rows (delivered_at: made, received_at: written).
 *
 * The target counts as met when nothing was lost, the source made its events at the target rate
 * (open loop: it never waits for the pipeline), and the pipeline kept up with it: 99 % of the
 * events stored within KEPT_UP_P99_MS of being made, so no backlog built up over the run.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import type { Row, Scenario, ScenarioContext } from '../../scenario';
import { findPids, processTree, treeCpuSecondsOf } from '../../herald/proc-cpu';
import { startRig, type Rig } from '../../herald/rig';
import { MAX_CLIENTS } from '../live-push/client-fleet';
import { cpuPct, startCpuWindow } from '../live-push/cpu-window';
import { median } from '../../summary';
import { batchesBetween, sampleConsumer, type ConsumerSample } from './consumer-metrics';
import { DIRECT_BATCHING, startDirectSource } from './direct-source';
import { startGatewaySource } from './gateway-source';
import { startPipeline, type ConsumerSettings, type Pipeline } from './pipeline';
import { SOURCES, type EventSource, type SourceKind, type SourceRun } from './source';
import { tallyStored } from './store-tally';

/** Issue 6: events a second the pipeline must store, sustained. */
export const TARGET_EVENTS_PER_SEC = 20_000;
/**
 * Kept up: 99 % of the events stored within this long of being made. An open-loop source does not
 * wait for the pipeline, so one that falls behind builds a backlog and this grows with the run.
 */
export const KEPT_UP_P99_MS = 1000;
/** The source made its events at this share of the target or more (ms-resolution timestamps). */
const OFFERED_SHARE = 0.99;
const POLL_MS = 250;
/** The consumer storing nothing new for this long (after the source is done): the rest is lost. */
const STALL_MS = 15_000;
/** After the last row: how long the consumer must receive nothing more to count redeliveries. */
const QUIET_MS = 1000;
const QUIET_MAX_MS = 5000;
const PROGRESS_EVERY_MS = 2000;

export const exposurePipeline: Scenario = {
  name: 'exposure-pipeline',
  description:
    'exposure events at an open-loop rate → Pub/Sub emulator → exposure-consumer → Postgres, from a gateway pushing to ' +
    `clients or published directly: stored events/s (target ≥ ${TARGET_EVENTS_PER_SEC / 1000}k), lost, made → stored latency, ` +
    'consumer and Postgres CPU per event, batch write times (HERALD_PUBSUB_EMULATOR=herald: Herald\'s emulator)',
  flags: {
    rate: { kind: 'int', default: '20000', min: 1, max: 1_000_000, description: 'events per second made, open loop' },
    seconds: { kind: 'int', default: '10', min: 1, max: 600, description: 'seconds of events that are measured' },
    warmup: { kind: 'int', default: '1', min: 0, max: 60, description: 'seconds at --rate before the measured ones (JIT), stored before measuring' },
    source: {
      kind: 'words',
      default: SOURCES.join(','),
      choices: SOURCES,
      description: 'gateway (a gateway pushing to acking clients makes the events) and/or direct (a process publishes them)',
    },
    online: { kind: 'int', default: '5000', min: 1, max: MAX_CLIENTS, description: 'gateway source: connected clients, one user each' },
    'client-procs': { kind: 'int', default: '2', min: 1, max: 32, description: 'gateway source: client processes' },
    'batch-max': { kind: 'int', default: '500', min: 1, max: 10_000, description: "the consumer's CONSUMER_BATCH_MAX (rows per insert)" },
    'batch-ms': { kind: 'int', default: '100', min: 1, max: 60_000, description: "the consumer's CONSUMER_BATCH_MAX_MS" },
    'max-outstanding': {
      kind: 'int',
      default: '5000',
      min: 1,
      max: 1_000_000,
      description: "the consumer's CONSUMER_MAX_OUTSTANDING (unacked messages held)",
    },
  },
  columns: [
    { key: 'source' },
    { key: 'published' },
    { key: 'stored' },
    { key: 'lost' },
    { key: 'duplicateRows', label: 'dup rows' },
    { key: 'redeliveries', label: 'redeliv' },
    { key: 'offeredPerSec', label: 'made/s' },
    { key: 'storedPerSec', label: 'stored/s' },
    { key: 'e2eSeconds', label: 'e2e s', digits: 2 },
    { key: 'p50Ms', label: 'p50 ms' },
    { key: 'p99Ms', label: 'p99 ms' },
    { key: 'peakBacklog', label: 'backlog' },
    { key: 'spilled' },
    { key: 'consumerCpuUsPerEvent', label: 'consumer µs/ev', digits: 1 },
    { key: 'consumerCpuPct', label: 'consumer CPU %' },
    { key: 'postgresCpuUsPerEvent', label: 'PG µs/ev', digits: 1 },
    { key: 'postgresCpuPct', label: 'PG CPU %' },
    { key: 'emulatorCpuPct', label: 'emulator CPU %' },
    { key: 'sourceCpuPct', label: 'source CPU %' },
    { key: 'machineCpuPct', label: 'machine CPU %' },
    { key: 'otherCpuPct', label: 'others CPU %' },
    { key: 'batchRows', label: 'batch rows' },
    { key: 'batchMeanMs', label: 'batch ms', digits: 1 },
    { key: 'batchP99Ms', label: 'batch p99 ≤ms' },
    { key: 'keptUp', label: 'kept up' },
    { key: 'targetMet', label: 'target' },
  ],
  run,
};

async function run(ctx: ScenarioContext): Promise<Row[]> {
  const { flags, signal, progress } = ctx;
  const sources = SOURCES.filter((s) => flags.words('source').includes(s));
  const settings: ConsumerSettings = {
    batchMax: flags.int('batch-max'),
    batchMs: flags.int('batch-ms'),
    maxOutstanding: flags.int('max-outstanding'),
  };
  const runTag = `r${ctx.round}${randomBytes(2).toString('hex')}`;
  const rig = await startRig(signal, progress);
  try {
    ctx.parameter('pubsubEmulator', rig.pubsub.kind);
    ctx.parameter('directBatching', JSON.stringify(DIRECT_BATCHING));
    const rows: Row[] = [];
    for (const kind of sources) {
      const tag = `${runTag}-${kind}`;
      const say = (line: string) => progress(`${kind}: ${line}`);
      say('starting Postgres and the exposure-consumer');
      const pipeline = await startPipeline(rig, `bench-pipe-${tag}`, settings, signal);
      try {
        ctx.parameter('postgres', pipeline.postgres.restartable ? 'embedded (@herald/testing, fsync off)' : 'DATABASE_URL server');
        const source = await startSource(kind, rig, pipeline, tag, ctx, say);
        try {
          const row = await measure(ctx, rig, pipeline, source, say);
          say(summarize(row));
          rows.push(row);
        } finally {
          await source.stop();
        }
      } finally {
        await pipeline.stop();
      }
    }
    return rows;
  } finally {
    await rig.stop();
  }
}

function startSource(kind: SourceKind, rig: Rig, pipeline: Pipeline, tag: string, ctx: ScenarioContext, say: (line: string) => void): Promise<EventSource> {
  if (kind === 'direct') return startDirectSource(rig, pipeline.topic, tag);
  return startGatewaySource(rig, pipeline.topic, tag, {
    online: ctx.flags.int('online'),
    clientProcesses: ctx.flags.int('client-procs'),
    progress: say,
  });
}

async function measure(ctx: ScenarioContext, rig: Rig, pipeline: Pipeline, source: EventSource, say: (line: string) => void): Promise<Row> {
  const { flags, signal } = ctx;
  const rate = flags.int('rate');
  const seconds = flags.int('seconds');
  const warmup = flags.int('warmup');
  const consumerUrl = pipeline.consumer.adminUrl;

  if (warmup > 0) {
    say(`warm-up: ${warmup} s at ${rate}/s`);
    const base = await sampleConsumer(consumerUrl);
    const warmed = await watchStored(consumerUrl, base, source.run(rate, warmup, signal, say), signal, say);
    if (warmed.stalled) say('warm-up: not every event was stored; measuring all the same');
  }

  // Every warm-up event is stored (delivered_at before this); every measured one is made after.
  const since = new Date();
  const loadAverage = loadavg()[0];
  const before = await sampleConsumer(consumerUrl);
  const window = startCpuWindow({
    ...source.cpuGroups,
    consumer: [pipeline.consumer.pid],
    emulator: emulatorPids(rig),
    redis: [rig.redis.process.pid as number],
    ingest: [rig.ingest.pid],
    bench: [process.pid],
  });
  const postgresBefore = treeCpuSecondsOf(pipeline.postgresRoots);
  // Everything this bench started is a descendant of it (Postgres included): the rest is other people's.
  const oursBefore = treeCpuSecondsOf([process.pid]);
  say(`${rate}/s for ${seconds} s`);
  const watched = await watchStored(consumerUrl, before, source.run(rate, seconds, signal, say), signal, say);
  const cpu = window.stop();
  const postgresAfter = treeCpuSecondsOf(pipeline.postgresRoots);
  const oursAfter = treeCpuSecondsOf([process.pid]);
  const after = await untilQuiet(consumerUrl, signal);
  const tally = await tallyStored(pipeline.postgres.url, source.gatewayId, since);

  const sourceRun = watched.run;
  const postgresSeconds = postgresBefore !== undefined && postgresAfter !== undefined ? postgresAfter - postgresBefore : undefined;
  const others =
    cpu.machine === undefined || oursBefore === undefined || oursAfter === undefined ? undefined : Math.max(0, cpu.machine - (oursAfter - oursBefore));
  const sourceSeconds = Object.keys(source.cpuGroups).reduce<number | undefined>(
    (sum, group) => (sum === undefined || cpu.groups[group] === undefined ? undefined : sum + cpu.groups[group]!),
    0,
  );
  const stored = tally.distinct;
  const perEvent = (s: number | undefined) => (s === undefined || stored === 0 ? null : (s * 1e6) / stored);
  const span = (from: number | null, to: number | null) => (from === null || to === null ? null : Math.max(to - from, 1) / 1000);
  const storedSpan = span(tally.firstStoredMs, tally.lastStoredMs);
  const madeSpan = span(tally.firstPublishedMs, tally.lastPublishedMs);
  const e2eSeconds = span(tally.firstPublishedMs, tally.lastStoredMs);
  // Whole seconds only: the first and the last are partial.
  const steady = tally.storedPerSecond.slice(1, -1);
  const batches = batchesBetween(before, after);
  const storedPerSec = storedSpan === null ? 0 : stored / storedSpan;
  const lost = Math.max(0, sourceRun.events - stored);
  const offeredPerSec = madeSpan === null ? null : sourceRun.events / madeSpan;
  const keptUp = lost === 0 && tally.p99Ms !== null && tally.p99Ms <= KEPT_UP_P99_MS;
  return {
    source: source.kind,
    rate,
    seconds,
    sent: sourceRun.sent,
    events: sourceRun.events,
    published: sourceRun.published,
    publishFailed: sourceRun.failed,
    stored,
    rows: tally.rows,
    lost,
    duplicateRows: tally.rows - tally.distinct,
    consumerDuplicates: after.duplicates - before.duplicates,
    redeliveries: Math.max(0, after.received - before.received - sourceRun.published),
    deadLetters: after.deadLetters - before.deadLetters,
    stalled: watched.stalled,
    offeredPerSec,
    storedPerSec,
    e2eSeconds,
    e2ePerSec: e2eSeconds === null ? null : stored / e2eSeconds,
    perSecondMin: steady.length > 0 ? Math.min(...steady) : null,
    perSecondMedian: steady.length > 0 ? median(steady) : null,
    storedSeries: tally.storedPerSecond.join(' '),
    p50Ms: tally.p50Ms,
    p99Ms: tally.p99Ms,
    maxMs: tally.maxMs,
    lagEndMs: tally.lastStoredMs === null || tally.lastPublishedMs === null ? null : tally.lastStoredMs - tally.lastPublishedMs,
    peakBacklog: tally.peakBacklog,
    consumerCpuUsPerEvent: perEvent(cpu.groups.consumer),
    consumerCpuPct: cpuPct(cpu.groups.consumer, cpu),
    postgresCpuUsPerEvent: perEvent(postgresSeconds),
    postgresCpuPct: cpuPct(postgresSeconds, cpu),
    emulatorCpuPct: cpuPct(cpu.groups.emulator, cpu),
    sourceCpuPct: cpuPct(sourceSeconds, cpu),
    gatewayCpuPct: cpuPct(cpu.groups.gateway, cpu),
    clientsCpuPct: cpuPct(cpu.groups.clients, cpu),
    producerCpuPct: cpuPct(cpu.groups.producer, cpu),
    redisCpuPct: cpuPct(cpu.groups.redis, cpu),
    benchCpuPct: cpuPct(cpu.groups.bench, cpu),
    machineCpuPct: cpuPct(cpu.machine, cpu),
    otherCpuPct: cpuPct(others, cpu),
    cpuWindowSeconds: cpu.wallSeconds,
    // The machine's 1-minute load average when the measured run began: was anyone else busy?
    loadAverage1m: loadAverage,
    batches: batches.batches,
    batchRows: batches.meanSize,
    batchMeanMs: batches.meanMs,
    batchP99Ms: batches.p99MsAtMost,
    failedBatches: after.failedBatches - before.failedBatches,
    senderLagMs: sourceRun.senderLagMs,
    spilled: sourceRun.spilled,
    keptUp,
    targetMet: keptUp && offeredPerSec !== null && offeredPerSec >= OFFERED_SHARE * TARGET_EVENTS_PER_SEC,
  };
}

interface WatchedStore {
  run: SourceRun;
  stalled: boolean;
}

/**
 * Follow the consumer while the source runs and afterwards, until it has taken (stored, or
 * skipped as stored already) as many events as the source published since `before`, or has not
 * moved for STALL_MS after the source finished.
 */
async function watchStored(
  consumerUrl: string,
  before: ConsumerSample,
  running: Promise<SourceRun>,
  signal: AbortSignal,
  say: (line: string) => void,
): Promise<WatchedStore> {
  let done: SourceRun | undefined;
  let failure: unknown;
  running.then(
    (r) => (done = r),
    (err: unknown) => (failure = err ?? new Error('the source failed')),
  );
  let moved = { taken: -1, at: Date.now() };
  let reported = Date.now();
  for (;;) {
    signal.throwIfAborted();
    if (failure) throw failure;
    const sample = await sampleConsumer(consumerUrl);
    const taken = sample.inserted + sample.duplicates - before.inserted - before.duplicates;
    const now = Date.now();
    if (done && taken >= done.published) return { run: done, stalled: false };
    if (taken !== moved.taken) moved = { taken, at: now };
    else if (done && now - moved.at > STALL_MS) {
      say(`consumer: nothing stored for ${STALL_MS} ms; stopping at ${taken}/${done.published}`);
      return { run: done, stalled: true };
    }
    if (now - reported >= PROGRESS_EVERY_MS) {
      const of = done ? `/${done.published}` : '';
      say(`consumer: ${taken}${of} stored, ${sample.received - before.received} received, ${sample.failedBatches - before.failedBatches} failed batches`);
      reported = now;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** The consumer's sample once it has received nothing new for QUIET_MS (at most QUIET_MAX_MS). */
async function untilQuiet(consumerUrl: string, signal: AbortSignal): Promise<ConsumerSample> {
  const started = Date.now();
  let last = await sampleConsumer(consumerUrl);
  let since = Date.now();
  while (Date.now() - since < QUIET_MS && Date.now() - started < QUIET_MAX_MS) {
    signal.throwIfAborted();
    await new Promise((r) => setTimeout(r, POLL_MS));
    const sample = await sampleConsumer(consumerUrl);
    if (sample.received !== last.received) since = Date.now();
    last = sample;
  }
  return last;
}

function summarize(row: Row): string {
  const n = (key: string, digits = 0) => (typeof row[key] === 'number' ? (row[key] as number).toFixed(digits) : '-');
  return (
    `${n('stored')}/${n('events')} stored (${n('lost')} lost, ${n('duplicateRows')} duplicate rows, ${n('redeliveries')} redeliveries), ` +
    `made ${n('offeredPerSec')}/s, stored ${n('storedPerSec')}/s (whole seconds: min ${n('perSecondMin')}, median ${n('perSecondMedian')}), ` +
    `made → stored p50 ${n('p50Ms')} ms, p99 ${n('p99Ms')} ms, backlog peak ${n('peakBacklog')}` +
    (row.spilled === null ? '; ' : `, ${n('spilled')} through the gateway's Redis spill; `) +
    `consumer ${n('consumerCpuUsPerEvent', 1)} µs/event (${n('consumerCpuPct')} %), Postgres ${n('postgresCpuUsPerEvent', 1)} µs/event ` +
    `(${n('postgresCpuPct')} %), emulator ${n('emulatorCpuPct')} %, source ${n('sourceCpuPct')} %, machine ${n('machineCpuPct')} %, ` +
    `others ${n('otherCpuPct')} %; batches of ${n('batchRows')} rows in ${n('batchMeanMs', 1)} ms (p99 ≤ ${n('batchP99Ms')} ms)`
  );
}

/**
 * The emulator's processes: Google's JVM found by its `--port=<port>` argument, or Herald's
 * emulator (started with `--port=0`) among this bench's own children.
 */
function emulatorPids(rig: Rig): number[] {
  if (rig.pubsub.kind === 'google') return findPids(`--port=${rig.pubsub.emulatorHost.split(':').pop()}`);
  return processTree([process.pid]).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('pubsub-emulator');
    } catch {
      return false;
    }
  });
}
