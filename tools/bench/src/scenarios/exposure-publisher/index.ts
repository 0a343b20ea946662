/**
 * How fast the gateway's ExposurePublisher gets exposure events to a real Pub/Sub emulator, for
 * each EXPOSURE_BATCH_MAX_MESSAGES x EXPOSURE_BATCH_MAX_MS.
 *
 * The bench may not import the gateway's code (Nx module boundaries: a tool depends on libs,
 * never on an app), so it drives the gateway the way the product runs: a real gateway process
 * per setting, real WebSocket clients, messages through ingest, and measures at the gateway (its
 * /metrics: CPU time and herald_exposures_pending) and at the topic (a subscription created
 * before publishing reads every event back). See phases.ts for the three phases.
 */
import { randomBytes } from 'node:crypto';
import { ensureSubscription } from '@herald/pubsub';
import type { Row, Scenario, ScenarioContext } from '../../scenario';
import { findPids } from '../../herald/proc-cpu';
import { startRig, type Rig } from '../../herald/rig';
import { MODES, runBurst, runDirect, runPaced, type Mode, type PhaseEnv, type Setting } from './phases';

/** Set explicitly: the bench acks at once, so this only matters if it stalls. */
const ACK_DEADLINE_SECONDS = 60;
/** Events the direct warm-up publishes before the first measurement of a round (JIT of the emulator). */
const WARM_UP_EVENTS_MAX = 10_000;

export const exposurePublisher: Scenario = {
  name: 'exposure-publisher',
  description:
    'gateway exposure events to a Pub/Sub emulator per EXPOSURE_BATCH_MAX_MESSAGES x EXPOSURE_BATCH_MAX_MS: ' +
    'throughput, CPU per event, peak pending, publish latency, exactly-once check',
  flags: {
    events: { kind: 'int', default: '50000', min: 1, description: 'exposure events per phase and setting' },
    'batch-messages': {
      kind: 'ints',
      default: '100,500,1000',
      min: 1,
      max: 1000,
      description: 'EXPOSURE_BATCH_MAX_MESSAGES values (comma-separated)',
    },
    'batch-ms': { kind: 'ints', default: '5,20,50', min: 1, max: 10_000, description: 'EXPOSURE_BATCH_MAX_MS values (comma-separated)' },
    'buffer-max': {
      kind: 'int',
      default: '1000000',
      min: 1,
      max: 1_000_000,
      description:
        "the gateway's EXPOSURE_BUFFER_MAX; the default (its largest) keeps a burst in memory, " +
        'the product default 10000 makes a larger burst spill to Redis',
    },
    rate: { kind: 'int', default: '10000', min: 1, description: 'events per second of the paced phase' },
    modes: {
      kind: 'words',
      default: MODES.join(','),
      choices: MODES,
      description: 'burst (offline drain, as fast as record() is called), paced (live at --rate), direct (no gateway)',
    },
  },
  columns: [
    { key: 'mode' },
    { key: 'batchMessages', label: 'batch msgs' },
    { key: 'batchMs', label: 'batch ms' },
    { key: 'eventsPerSec', label: 'events/s' },
    { key: 'recordsPerSec', label: 'record()/s' },
    { key: 'cpuUsPerEvent', label: 'CPU µs/event', digits: 1 },
    { key: 'publisherCpuPct', label: 'proc CPU %' },
    { key: 'emulatorCpuPct', label: 'emulator CPU %' },
    { key: 'otherCpuPct', label: 'others CPU %' },
    { key: 'peakPending', label: 'peak pending' },
    { key: 'spilled' },
    { key: 'p50Ms', label: 'p50 ms', digits: 1 },
    { key: 'p99Ms', label: 'p99 ms', digits: 1 },
    { key: 'delivered' },
    { key: 'exactlyOnce', label: 'once' },
  ],
  run,
};

async function run(ctx: ScenarioContext): Promise<Row[]> {
  const { flags, signal, progress } = ctx;
  const modes = flags.words('modes') as Mode[];
  const settings: Setting[] = flags
    .ints('batch-messages')
    .flatMap((batchMessages) => flags.ints('batch-ms').map((batchMs) => ({ batchMessages, batchMs })));
  const runTag = `r${ctx.round}${randomBytes(2).toString('hex')}`;
  const rig = await startRig(signal, progress);
  try {
    ctx.parameter('pubsubEmulator', rig.pubsub.kind);
    const emulatorPids = rig.pubsub.kind === 'google' ? findPids(`--port=${rig.pubsub.emulatorHost.split(':').pop()}`) : [];
    const rigPids = emulatorPids.length > 0 ? [process.pid, rig.ingest.pid, rig.redis.process.pid as number, ...emulatorPids] : [];
    const env: PhaseEnv = { rig, events: flags.int('events'), rate: flags.int('rate'), emulatorPids, rigPids, signal, progress };

    const warmUp = { ...env, events: Math.min(env.events, WARM_UP_EVENTS_MAX), progress: (line: string) => progress(`warm-up ${line}`) };
    const warmUpTopic = await createTopic(rig, `bench-${runTag}-warm-up`);
    await runDirect(warmUp, warmUpTopic, `${warmUpTopic}-tally`, settings[0], `${runTag}-warm-up`);
    await deleteTopic(rig, warmUpTopic);

    const rows: Row[] = [];
    for (const setting of settings) {
      const label = `batch ${setting.batchMessages} msgs / ${setting.batchMs} ms`;
      const tag = `${runTag}-${setting.batchMessages}-${setting.batchMs}`;
      const say = (line: string) => progress(`${label}: ${line}`);
      const phaseEnv = { ...env, progress: say };
      const gatewayModes = modes.filter((m) => m !== 'direct');
      if (gatewayModes.length > 0) {
        const topic = await createTopic(rig, `bench-${tag}`);
        const gateway = await rig.startGateway({
          EXPOSURE_TOPIC: topic,
          EXPOSURE_BATCH_MAX_MESSAGES: String(setting.batchMessages),
          EXPOSURE_BATCH_MAX_MS: String(setting.batchMs),
          EXPOSURE_BUFFER_MAX: String(flags.int('buffer-max')),
        });
        try {
          for (const mode of gatewayModes) {
            const phase = mode === 'burst' ? runBurst : runPaced;
            const row = await phase(phaseEnv, gateway, `${topic}-tally`, setting, tag);
            say(`${mode}: ${summarize(row)}`);
            rows.push(row);
          }
        } finally {
          await gateway.stop();
        }
        await deleteTopic(rig, topic);
      }
      if (modes.includes('direct')) {
        const topic = await createTopic(rig, `bench-${tag}-direct`);
        const row = await runDirect(phaseEnv, topic, `${topic}-tally`, setting, tag);
        say(`direct: ${summarize(row)}`);
        rows.push(row);
        await deleteTopic(rig, topic);
      }
    }
    return rows;
  } finally {
    await rig.stop();
  }
}

/** A topic with its tally subscription, created before anything is published to it. */
async function createTopic(rig: Rig, name: string): Promise<string> {
  await ensureSubscription(rig.client, name, `${name}-tally`, ACK_DEADLINE_SECONDS);
  return name;
}

/** Free the emulator's memory of a finished topic. */
async function deleteTopic(rig: Rig, name: string): Promise<void> {
  await rig.client.subscription(`${name}-tally`).delete();
  await rig.client.topic(name).delete();
}

function summarize(row: Row): string {
  const n = (key: string, digits = 0) => (typeof row[key] === 'number' ? (row[key] as number).toFixed(digits) : '-');
  return (
    `${n('eventsPerSec')} events/s, ${n('cpuUsPerEvent', 1)} µs CPU/event, peak pending ${n('peakPending')}, ` +
    `p50 ${n('p50Ms', 1)} ms, p99 ${n('p99Ms', 1)} ms, ${n('delivered')}/${n('events')} delivered${row.exactlyOnce ? ' once' : ' (NOT exactly once)'}`
  );
}
