/**
 * The exposure pipeline end to end (docs/BENCHMARKS.md, "Exposure pipeline"): events made at an
 * open-loop rate by a source, pulled by a real exposure-consumer into a fresh Postgres per source
 * (store.ts), then counted and timed from the rows.
 */
import { loadavg } from 'node:os';
import type { EventCompression } from '@herald/pubsub';
import { sampleConsumer, sampleGateway, type ConsumerSample } from '../../metrics';
import { cpuPct, cpuUsPer, othersSeconds, treeCpuSecondsOf } from '../../procs';
import { settledExposures, startTarget } from '../../push';
import { median, summarize } from '../../report';
import { Rig, userIdsFor } from '../../rig';
import { columns, type Row, type Scenario, type ScenarioContext } from '../../scenario';
import { watch } from '../../watch';
import { startPipeline, tallyOthers, tallyStored, type Pipeline } from './store';

type SourceKind = 'gateway' | 'direct';
const SOURCES: readonly SourceKind[] = ['gateway', 'direct'];
/** Issue 6: events a second the pipeline must store. */
const TARGET_EVENTS_PER_SEC = 20_000;
/** Kept up: 99 % of the events stored within this long of being made (an outrun pipeline's backlog grows). */
const KEPT_UP_P99_MS = 1000;
/** The source made its events at this share of the target or more (ms-resolution timestamps). */
const OFFERED_SHARE = 0.99;
/** The gateway's defaults (EXPOSURE_BATCH_MAX_MESSAGES / _MS): the direct source's batches reach the emulator alike. */
const DIRECT_BATCHING = Object.freeze({ batchMessages: 500, batchMs: 20 });
/** Users the direct events name (round-robin), as a gateway with this many online. */
const DIRECT_USERS = 1000;
/** The consumer storing nothing new this long after the source is done: the rest is lost. */
const STALL_MS = 15_000;

/** events: made (pushes recorded, publish() calls); sent: messages written (gateway) or events scheduled (direct); spilled: null for direct. */
type SourceRun = { events: number; published: number; failed: number; sent: number; senderLagMs: number; spilled: number | null };

/** Its events carry its gatewayId (how its rows are found); `run` resolves once each was published (or given up on). */
type Source = { kind: SourceKind; gatewayId: string; cpuGroups: Record<string, number[]>; run(rate: number, seconds: number): Promise<SourceRun>; stop(): Promise<unknown> };

export const exposurePipeline: Scenario = {
  name: 'exposure-pipeline',
  description:
    'exposure events at an open-loop rate → Pub/Sub emulator → exposure-consumer → Postgres, from a gateway pushing to ' +
    `clients or published directly: stored events/s (target ≥ ${TARGET_EVENTS_PER_SEC / 1000}k), lost, made → stored latency, ` +
    "consumer and Postgres CPU per event, batch write times (HERALD_PUBSUB_EMULATOR=herald: Herald's emulator)",
  flags: {
    rate: { kind: 'int', default: '20000', min: 1, max: 1_000_000, description: 'events per second made, open loop' },
    seconds: { kind: 'int', default: '10', min: 1, max: 600, description: 'seconds of events that are measured' },
    warmup: { kind: 'int', default: '1', min: 0, max: 60, description: 'seconds at --rate before the measured ones (JIT), stored before measuring' },
    source: { kind: 'words', default: SOURCES.join(','), choices: SOURCES, description: 'gateway (a gateway pushing to acking clients) and/or direct (a process publishes)' },
    online: { kind: 'int', default: '5000', min: 1, max: 250_000, description: 'gateway source: connected clients, one user each' },
    'client-procs': { kind: 'int', default: '2', min: 1, max: 32, description: 'gateway source: client processes' },
    'batch-max': { kind: 'int', default: '500', min: 1, max: 10_000, description: "the consumer's CONSUMER_BATCH_MAX (rows per insert)" },
    'batch-ms': { kind: 'int', default: '500', min: 1, max: 60_000, description: "the consumer's CONSUMER_BATCH_MAX_MS (its default)" },
    'max-outstanding': { kind: 'int', default: '5000', min: 1, max: 1_000_000, description: "the consumer's CONSUMER_MAX_OUTSTANDING (events of the unacked messages held)" },
    'events-per-message': {
      kind: 'int', default: '100', min: 1, max: 1000,
      description: 'direct source: events packed into one Pub/Sub message, as EVENTS_PER_PUBSUB_MESSAGE (1: one each, the format before packing)',
    },
    compression: {
      kind: 'words', default: 'none', choices: ['deflate', 'none'],
      description: "direct source: how packed messages are compressed, as EVENTS_PUBSUB_COMPRESSION (default none, as the product's; the gateway source takes the gateway's own)",
    },
    'mix-every': {
      kind: 'int', default: '0', min: 0, max: 100,
      description: 'direct source: one event in N of a user (N ≥ 2) is an opened, clicked, expired or sent event about its last exposure instead (0: exposures only)',
    },
  },
  columns: columns(
    'source', 'published', 'stored', ['others', 'other kinds'], 'lost', ['duplicateRows', 'dup rows'], ['redeliveries', 'redeliv'],
    ['offeredPerSec', 'made/s'], ['storedPerSec', 'stored/s'], ['e2eSeconds', 'e2e s', 2], ['p50Ms', 'p50 ms'],
    ['p99Ms', 'p99 ms'], ['peakBacklog', 'backlog'], 'spilled', ['consumerCpuUsPerEvent', 'consumer µs/ev', 1],
    ['consumerCpuPct', 'consumer CPU %'], ['postgresCpuUsPerEvent', 'PG µs/ev', 1], ['postgresCpuPct', 'PG CPU %'],
    ['emulatorCpuPct', 'emulator CPU %'], ['sourceCpuPct', 'source CPU %'], ['machineCpuPct', 'machine CPU %'],
    ['otherCpuPct', 'others CPU %'], ['batchRows', 'batch rows'], ['batchMeanMs', 'batch ms', 1],
    ['batchP99Ms', 'batch p99 ≤ms'], ['keptUp', 'kept up'], ['targetMet', 'target'],
  ),
  run: (ctx) => Rig.run(ctx, async (rig, runTag) => {
    const { flags, progress } = ctx;
    const settings = { batchMax: flags.int('batch-max'), batchMs: flags.int('batch-ms'), maxOutstanding: flags.int('max-outstanding') };
    await rig.pubsub(); // the emulator first: pubsubEmulator before directBatching in the JSON
    ctx.parameter('directBatching', JSON.stringify(DIRECT_BATCHING));
    const rows: Row[] = [];
    for (const kind of SOURCES.filter((s) => flags.words('source').includes(s))) {
      const tag = `${runTag}-${kind}`;
      const say = (line: string) => progress(`${kind}: ${line}`);
      say('starting Postgres and the exposure-consumer');
      const pipeline = await startPipeline(rig, `bench-pipe-${tag}`, settings);
      ctx.parameter('postgres', pipeline.postgres.restartable ? 'embedded (@herald/testing, fsync off)' : 'DATABASE_URL server');
      const source = await (kind === 'direct' ? directSource : gatewaySource)(rig, pipeline.topic, tag, { ...ctx, progress: say });
      const row = await measure({ ...ctx, progress: say }, rig, pipeline, source);
      say(summarize(exposurePipeline.columns, row));
      rows.push(row);
      await source.stop(); // the next source has the machine to itself
      await pipeline.stop();
    }
    return rows;
  }),
};

/** A gateway with acking clients; an open-loop producer writes a message to one user per event. */
async function gatewaySource(rig: Rig, topic: string, tag: string, ctx: ScenarioContext): Promise<Source> {
  const gatewayId = `bench-${tag}-gateway`;
  const userIds = userIdsFor(`pipe-${tag}-`, ctx.flags.int('online'));
  ctx.progress(`gateway source: connecting ${userIds.length} clients`);
  const { server, fleet, stop } = await startTarget(rig, 'herald', topic, userIds, ctx.flags.int('client-procs'), false, { GATEWAY_ID: gatewayId });
  const producer = await rig.startSender('pipeline producer', { type: 'setup', kind: 'herald', redisUrl: rig.redis.url, userIds, ttlSeconds: 600 });
  return {
    kind: 'gateway', gatewayId, cpuGroups: { gateway: [server.pid], clients: fleet.pids, producer: [producer.pid] },
    async run(rate, seconds) {
      await fleet.reset();
      const before = await sampleGateway(server.adminUrl!);
      const sent = await producer.run(rate, seconds);
      const counts = await fleet.untilReceived(sent.done, { stallMs: 10_000, signal: ctx.signal, report: ctx.progress });
      if (counts.closed > 0 || counts.unexpected > 0) ctx.progress(`clients: ${counts.closed} closed, ${counts.unexpected} unexpected frames; ${counts.lastError}`);
      const after = (await settledExposures(server, before.taken + counts.messages, ctx.signal))!;
      return {
        events: after.pushed - before.pushed, published: after.taken - before.taken, failed: after.failed - before.failed,
        sent: sent.done, senderLagMs: sent.maxLagMs, spilled: after.spilled - before.spilled,
      };
    },
    stop: async () => (await producer.stop(), await stop()),
  };
}

/** A process publishing events of the gateway's shape (workers/sender.ts, `exposures`). */
async function directSource(rig: Rig, topic: string, tag: string, ctx: ScenarioContext): Promise<Source> {
  const gatewayId = `bench-${tag}-direct`;
  const mixEvery = ctx.flags.int('mix-every');
  if (mixEvery === 1) throw new Error('--mix-every must be 0 (exposures only) or at least 2: every other kind is about an exposure before it');
  const { emulatorHost, projectId } = (await rig.pubsub()).emulator;
  const userIds = userIdsFor(`pipe-${tag}-u`, DIRECT_USERS);
  const eventsPerMessage = ctx.flags.int('events-per-message');
  const [compression, ...more] = ctx.flags.words('compression') as EventCompression[];
  if (more.length > 0) throw new Error('--compression takes one of deflate, none');
  const publisher = await rig.startSender('direct publisher', {
    type: 'setup', kind: 'exposures', emulatorHost, projectId, topic, gatewayId, userIds, mixEvery, eventsPerMessage, compression, ...DIRECT_BATCHING,
  });
  return {
    kind: 'direct', gatewayId, cpuGroups: { source: [publisher.pid] },
    async run(rate, seconds) {
      const reply = await publisher.run(rate, seconds);
      return { events: reply.sent, published: reply.done, failed: reply.failed, sent: reply.sent, senderLagMs: reply.maxLagMs, spilled: null };
    },
    stop: () => publisher.stop(),
  };
}

async function measure(ctx: ScenarioContext, rig: Rig, pipeline: Pipeline, source: Source): Promise<Row> {
  const { flags, progress: say } = ctx;
  const [rate, seconds, warmup] = ['rate', 'seconds', 'warmup'].map((name) => flags.int(name));
  const consumerUrl = pipeline.consumer.adminUrl;
  if (warmup > 0) {
    say(`warm-up: ${warmup} s at ${rate}/s`);
    const warmed = await watchStored(ctx, consumerUrl, () => source.run(rate, warmup));
    if (warmed.stalled) say('warm-up: not every event was stored; measuring all the same');
  }

  // Every warm-up event is stored (delivered_at before this); every measured one is made after.
  const since = new Date();
  const loadAverage = loadavg()[0];
  const before = await sampleConsumer(consumerUrl);
  // Everything this bench started is a descendant of it (Postgres included): the rest is other people's.
  const postgres = () => treeCpuSecondsOf(pipeline.postgresRoots);
  const cpu = rig.cpuWindow({ ...source.cpuGroups, consumer: [pipeline.consumer.pid], postgres, ours: () => treeCpuSecondsOf([process.pid]) });
  say(`${rate}/s for ${seconds} s`);
  const watched = await watchStored(ctx, consumerUrl, () => source.run(rate, seconds));
  const spent = cpu.stop();
  const after = await untilQuiet(consumerUrl, ctx.signal);
  const tally = await tallyStored(pipeline.postgres.url, source.gatewayId, since);
  // Rows of the other kinds (the direct source's mix; a fresh database per source): engagements, held ones, losses, messages.
  const others = await tallyOthers(pipeline.postgres.url, since);

  const { run: sourceRun } = watched;
  const sourceCpu = Object.keys(source.cpuGroups).map((group) => spent.groups[group]);
  const sourceSeconds = sourceCpu.includes(undefined) ? undefined : (sourceCpu as number[]).reduce((sum, s) => sum + s, 0);
  const stored = tally.distinct;
  const perEvent = (s: number | undefined) => cpuUsPer(s, stored + others);
  const span = (from: number | null, to: number | null) => (from === null || to === null ? null : Math.max(to - from, 1) / 1000);
  const storedSpan = span(tally.firstStoredMs, tally.lastStoredMs);
  const madeSpan = span(tally.firstPublishedMs, tally.lastPublishedMs);
  const e2eSeconds = span(tally.firstPublishedMs, tally.lastStoredMs);
  // Whole seconds only: the first and the last are partial.
  const steady = tally.storedPerSecond.slice(1, -1);
  const batches = batchesBetween(before, after);
  const lost = Math.max(0, sourceRun.events - stored - others);
  const offeredPerSec = madeSpan === null ? null : sourceRun.events / madeSpan;
  const keptUp = lost === 0 && tally.p99Ms !== null && tally.p99Ms <= KEPT_UP_P99_MS;
  const pct = (seconds: number | undefined) => cpuPct(seconds, spent);
  return {
    source: source.kind, rate, seconds, sent: sourceRun.sent, events: sourceRun.events, published: sourceRun.published,
    publishFailed: sourceRun.failed, stored, others, rows: tally.rows, lost, duplicateRows: tally.rows - tally.distinct,
    consumerDuplicates: after.duplicates - before.duplicates,
    redeliveries: Math.max(0, after.received - before.received - sourceRun.published),
    deadLetters: after.deadLetters - before.deadLetters, stalled: watched.stalled, offeredPerSec,
    // Events of every kind: the others are written in the same batches as the exposures, over the same span.
    storedPerSec: storedSpan === null ? 0 : (stored + others) / storedSpan, e2eSeconds,
    e2ePerSec: e2eSeconds === null ? null : (stored + others) / e2eSeconds, perSecondMin: steady.length > 0 ? Math.min(...steady) : null,
    perSecondMedian: steady.length > 0 ? median(steady) : null, storedSeries: tally.storedPerSecond.join(' '),
    p50Ms: tally.p50Ms, p99Ms: tally.p99Ms, maxMs: tally.maxMs,
    lagEndMs: tally.lastStoredMs === null || tally.lastPublishedMs === null ? null : tally.lastStoredMs - tally.lastPublishedMs,
    peakBacklog: tally.peakBacklog, consumerCpuUsPerEvent: perEvent(spent.groups.consumer),
    consumerCpuPct: pct(spent.groups.consumer), postgresCpuUsPerEvent: perEvent(spent.groups.postgres),
    postgresCpuPct: pct(spent.groups.postgres), emulatorCpuPct: pct(spent.groups.emulator), sourceCpuPct: pct(sourceSeconds),
    gatewayCpuPct: pct(spent.groups.gateway), clientsCpuPct: pct(spent.groups.clients),
    producerCpuPct: pct(spent.groups.producer), redisCpuPct: pct(spent.groups.redis), benchCpuPct: pct(spent.groups.bench),
    machineCpuPct: pct(spent.machine), otherCpuPct: pct(othersSeconds(spent, ['ours'])), cpuWindowSeconds: spent.wallSeconds,
    // The machine's 1-minute load average when the measured run began: was anyone else busy?
    loadAverage1m: loadAverage, batches: batches.batches, batchRows: batches.meanSize, batchMeanMs: batches.meanMs,
    batchP99Ms: batches.p99MsAtMost, failedBatches: after.failedBatches - before.failedBatches,
    senderLagMs: sourceRun.senderLagMs, spilled: sourceRun.spilled, keptUp,
    targetMet: keptUp && offeredPerSec !== null && offeredPerSec >= OFFERED_SHARE * TARGET_EVENTS_PER_SEC,
  };
}

/** How often the consumer is scraped while the source still runs (the progress line's period). */
const PROGRESS_SCRAPE_MS = 2000;

/** Follow the consumer until it has taken (stored, or skipped as stored already) every event the source published, or stalls. */
async function watchStored(ctx: ScenarioContext, consumerUrl: string, start: () => Promise<SourceRun>): Promise<{ run: SourceRun; stalled: boolean }> {
  let done: SourceRun | undefined;
  let failure: unknown;
  const before = await sampleConsumer(consumerUrl);
  start().then((r) => (done = r), (err: unknown) => (failure = err ?? new Error('the source failed')));
  let ticks = 0;
  let line = 'consumer: not sampled yet';
  let sampledAt = 0;
  const watched = await watch(
    async () => {
      if (failure) throw failure;
      // While the source runs, the wait never counts as stalled, and the consumer is scraped only
      // for the progress line: a scrape costs it ~3.3 ms of CPU, ~14 µs an event at 1,000 a second
      // when it was scraped every 250 ms throughout (docs/BENCHMARKS.md, "Idle costs").
      if (!done && Date.now() - sampledAt < PROGRESS_SCRAPE_MS) return { done: false, progress: --ticks, line };
      sampledAt = Date.now();
      const sample = await sampleConsumer(consumerUrl);
      const taken = sample.events - before.events;
      line = `consumer: ${taken}${done ? `/${done.published}` : ''} stored, ${sample.received - before.received} received, ${sample.failedBatches - before.failedBatches} failed batches`;
      return { done: done !== undefined && taken >= done.published, progress: done ? taken : --ticks, line };
    },
    { intervalMs: 250, stallMs: STALL_MS, signal: ctx.signal, report: ctx.progress },
  );
  return { run: done!, stalled: watched.stalled };
}

/** The consumer's sample once it has received nothing new for 1 s (at most 5 s). */
async function untilQuiet(consumerUrl: string, signal: AbortSignal): Promise<ConsumerSample> {
  const started = Date.now();
  let last = await sampleConsumer(consumerUrl);
  const poll = async () => ({ done: Date.now() - started > 5000, progress: (last = await sampleConsumer(consumerUrl)).received, line: '' });
  await watch(poll, { intervalMs: 250, stallMs: 1000, signal });
  return last;
}

/** The batches written between two samples: how many, rows and ms on average, the bucket bound holding the 99th percentile. */
function batchesBetween(before: ConsumerSample, after: ConsumerSample) {
  const batches = after.batches - before.batches;
  if (batches <= 0) return { batches: 0, meanSize: null, meanMs: null, p99MsAtMost: null };
  const bucket = after.buckets.find(([bound, count]) => count - (before.buckets.find(([b]) => b === bound)?.[1] ?? 0) >= 0.99 * batches);
  return {
    batches, meanSize: (after.events - before.events) / batches,
    meanMs: ((after.batchSeconds - before.batchSeconds) / batches) * 1000,
    p99MsAtMost: bucket && Number.isFinite(bucket[0]) ? bucket[0] * 1000 : null,
  };
}
