/** The one reader of the apps' /metrics (an app process's `adminUrl`). */
import { labelValue, metricSamples, metricValue } from '@herald/testing';
import { watch } from './watch';

/** A metric summed over the series whose labels include `labels`. */
export async function readMetrics(url: string): Promise<{ text: string; value(name: string, labels?: string): number }> {
  const res = await fetch(`${url}/metrics`);
  if (res.status !== 200) throw new Error(`GET ${url}/metrics answered ${res.status}`);
  const text = await res.text();
  return { text, value: (name, labels) => metricValue(text, name, labels) };
}

/**
 * A gateway's figures: its CPU seconds (process_cpu_seconds_total), exposures held in memory
 * (pending) and in the Redis spill (spillLength), herald_exposures_published_total by outcome
 * (Pub/Sub took `published` from memory and `replayed` from the spill: `taken` together; `unlogged`:
 * frames let go without their write-ahead log, after EXPOSURE_LOG_WAIT_MS or a failed write), pushes.
 */
export type GatewaySample = Awaited<ReturnType<typeof sampleGateway>>;

export async function sampleGateway(adminUrl: string) {
  const { value } = await readMetrics(adminUrl);
  const outcome = (name: string) => value('herald_exposures_published_total', `outcome="${name}"`);
  const [published, replayed] = [outcome('published'), outcome('replayed')];
  return {
    cpuSeconds: value('process_cpu_seconds_total'), pending: value('herald_exposures_pending'),
    spillLength: value('herald_exposures_spilled'), published, replayed, spilled: outcome('spilled'), failed: outcome('failed'),
    unlogged: outcome('unlogged'),
    taken: published + replayed, pushed: value('herald_gateway_messages_pushed_total'),
  };
}

/** Sample the gateway until Pub/Sub has taken `taken` events and nothing is pending in memory or the spill; `check` may throw. */
export async function untilExposuresPublished(
  adminUrl: string,
  taken: number,
  opts: { stallMs: number; intervalMs?: number; signal: AbortSignal; report?(line: string): void; check?(): Promise<void> },
): Promise<{ last: GatewaySample; stalled: boolean; peakPending: number; wallMs: number }> {
  const started = Date.now();
  let last: GatewaySample | undefined;
  let peakPending = 0;
  const watched = await watch(
    async () => {
      const sample = (last = await sampleGateway(adminUrl));
      await opts.check?.();
      peakPending = Math.max(peakPending, sample.pending);
      return {
        done: sample.taken >= taken && sample.pending === 0 && sample.spillLength === 0, progress: sample.taken,
        line: `gateway: ${sample.taken}/${taken} exposures published, ${sample.pending} pending, ${sample.spillLength} in the spill`,
      };
    },
    { intervalMs: opts.intervalMs ?? 200, stallMs: opts.stallMs, signal: opts.signal, report: opts.report },
  );
  return { last: last!, stalled: watched.stalled, peakPending, wallMs: watched.at - started };
}

/** The exposure-consumer's counters; herald_consumer_batch_seconds of the batches written (buckets: [le seconds, count]) and failed. */
export type ConsumerSample = Awaited<ReturnType<typeof sampleConsumer>>;

export async function sampleConsumer(url: string) {
  const { text, value } = await readMetrics(url);
  const ok = 'outcome="ok"';
  const buckets: Array<[number, number]> = metricSamples(text)
    .filter((s) => s.name === 'herald_consumer_batch_seconds_bucket' && labelValue(s.labels, 'outcome') === 'ok')
    .map((s) => [Number(labelValue(s.labels, 'le')?.replace('+Inf', 'Infinity')), s.value]);
  return {
    cpuSeconds: value('process_cpu_seconds_total'), received: value('herald_exposures_received_total'),
    inserted: value('herald_exposures_inserted_total'), duplicates: value('herald_exposures_duplicates_total'),
    // Every event taken off the subscription and written, whatever its kind (stored, duplicate, held).
    events: value('herald_consumer_events_total'),
    deadLetters: value('herald_exposures_dead_letter_total'), batches: value('herald_consumer_batch_seconds_count', ok),
    batchSeconds: value('herald_consumer_batch_seconds_sum', ok), buckets: buckets.sort((a, b) => a[0] - b[0]),
    failedBatches: value('herald_consumer_batch_seconds_count') - value('herald_consumer_batch_seconds_count', ok),
  };
}
