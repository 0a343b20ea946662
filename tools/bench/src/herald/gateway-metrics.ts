/**
 * What the bench reads from a gateway's /metrics: its CPU time (prom-client's
 * process_cpu_seconds_total, i.e. process.cpuUsage() of the gateway), the exposure counters by
 * outcome and the `herald_exposures_pending` gauge (ExposurePublisher.outstanding).
 */
import { labelValue, metricSamples } from '@herald/testing';

export interface GatewaySample {
  /** User + system CPU seconds of the gateway process. */
  cpuSeconds: number;
  /** herald_exposures_pending: events held in memory by the publisher. */
  pending: number;
  /** herald_exposures_spilled: events in the Redis spill. */
  spillLength: number;
  /**
   * herald_exposures_published_total by outcome. Pub/Sub took `published` events from memory and
   * `replayed` ones from the spill; together, every event it took.
   */
  published: number;
  replayed: number;
  spilled: number;
  retried: number;
  failed: number;
  /** herald_gateway_messages_pushed_total, all vias. */
  pushed: number;
}

/** `adminUrl`: where the gateway serves /metrics (AppProcess.adminUrl, its ADMIN_PORT). */
export async function sampleGateway(adminUrl: string): Promise<GatewaySample> {
  const res = await fetch(`${adminUrl}/metrics`);
  if (res.status !== 200) throw new Error(`GET ${adminUrl}/metrics answered ${res.status}`);
  return parseSample(await res.text());
}

export function parseSample(text: string): GatewaySample {
  const sample: GatewaySample = {
    cpuSeconds: 0,
    pending: 0,
    spillLength: 0,
    published: 0,
    replayed: 0,
    spilled: 0,
    retried: 0,
    failed: 0,
    pushed: 0,
  };
  for (const { name, labels, value } of metricSamples(text)) {
    switch (name) {
      case 'process_cpu_seconds_total':
        sample.cpuSeconds = value;
        break;
      case 'herald_exposures_pending':
        sample.pending = value;
        break;
      case 'herald_exposures_spilled':
        sample.spillLength = value;
        break;
      case 'herald_gateway_messages_pushed_total':
        sample.pushed += value;
        break;
      case 'herald_exposures_published_total': {
        const outcome = labelValue(labels, 'outcome');
        if (outcome === 'published' || outcome === 'replayed' || outcome === 'spilled' || outcome === 'retried' || outcome === 'failed') {
          sample[outcome] += value;
        }
        break;
      }
    }
  }
  return sample;
}

export interface WatchOptions {
  /** Events the phase will have the gateway record. */
  expected: number;
  /** The sample taken just before the phase started. */
  baseline: GatewaySample;
  intervalMs: number;
  /** Fail when the published count does not move for this long. */
  stallMs: number;
  signal: AbortSignal;
  progress(line: string): void;
  /** Called on every sample; throw to abort the phase (e.g. a client was disconnected). */
  check?(): void;
}

export interface Watched {
  /** The sample at which every expected event had been accepted by Pub/Sub. */
  last: GatewaySample;
  /** Highest `herald_exposures_pending` seen (sampled every intervalMs). */
  peakPending: number;
  /** From the baseline sample to the last one. */
  wallMs: number;
}

const PROGRESS_EVERY_MS = 2000;

/**
 * Sample the gateway until Pub/Sub has taken `expected` more events than at the baseline and
 * nothing is pending or waiting in the spill.
 */
export async function watchExposures(baseUrl: string, opts: WatchOptions): Promise<Watched> {
  const started = Date.now();
  let peakPending = 0;
  let lastProgress = { done: -1, at: started };
  let lastReport = started;
  for (;;) {
    opts.signal.throwIfAborted();
    const sample = await sampleGateway(baseUrl);
    opts.check?.();
    peakPending = Math.max(peakPending, sample.pending);
    // Every event Pub/Sub accepted: from memory (`published`) or replayed from the spill.
    const done = sample.published + sample.replayed - (opts.baseline.published + opts.baseline.replayed);
    const now = Date.now();
    if (done >= opts.expected && sample.pending === 0 && sample.spillLength === 0) {
      return { last: sample, peakPending, wallMs: now - started };
    }
    if (done !== lastProgress.done) lastProgress = { done, at: now };
    else if (now - lastProgress.at > opts.stallMs) {
      throw new Error(
        `the gateway stalled at ${done}/${opts.expected} exposures published (pending ${sample.pending}, ` +
          `spill ${sample.spillLength}, failed ${sample.failed - opts.baseline.failed}) for ${opts.stallMs} ms`,
      );
    }
    if (now - lastReport >= PROGRESS_EVERY_MS) {
      opts.progress(`gateway: ${done}/${opts.expected} published, ${sample.pending} pending, ${sample.spillLength} in the spill`);
      lastReport = now;
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs));
  }
}
