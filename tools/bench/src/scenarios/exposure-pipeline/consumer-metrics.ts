/**
 * What the bench reads from the exposure-consumer's /metrics (apps/exposure-consumer metrics.ts):
 * its CPU time, the counters of messages received (redeliveries included), rows inserted,
 * duplicates skipped and dead letters, and the batch-write histogram.
 */
import { labelValue, metricSamples } from '@herald/testing';

export interface ConsumerSample {
  /** process_cpu_seconds_total: user + system CPU seconds of the consumer. */
  cpuSeconds: number;
  /** herald_exposures_received_total: Pub/Sub messages handed to the consumer, redeliveries included. */
  received: number;
  /** herald_exposures_inserted_total: rows written to `exposures`. */
  inserted: number;
  /** herald_exposures_duplicates_total: events whose eventId was stored already. */
  duplicates: number;
  deadLetters: number;
  /** herald_consumer_batch_seconds, outcome="ok": batches written, their total seconds, cumulative buckets. */
  batches: number;
  batchSeconds: number;
  /** [upper bound in seconds, cumulative count], ascending; the last bound is Infinity. */
  buckets: Array<[number, number]>;
  /** Batches whose write failed (outcome="error"), each nacked for redelivery. */
  failedBatches: number;
}

export async function sampleConsumer(baseUrl: string): Promise<ConsumerSample> {
  const res = await fetch(`${baseUrl}/metrics`);
  if (res.status !== 200) throw new Error(`GET ${baseUrl}/metrics answered ${res.status}`);
  return parseConsumerSample(await res.text());
}

export function parseConsumerSample(text: string): ConsumerSample {
  const sample: ConsumerSample = {
    cpuSeconds: 0,
    received: 0,
    inserted: 0,
    duplicates: 0,
    deadLetters: 0,
    batches: 0,
    batchSeconds: 0,
    buckets: [],
    failedBatches: 0,
  };
  for (const { name, labels, value } of metricSamples(text)) {
    const ok = labelValue(labels, 'outcome') === 'ok';
    switch (name) {
      case 'process_cpu_seconds_total':
        sample.cpuSeconds = value;
        break;
      case 'herald_exposures_received_total':
        sample.received = value;
        break;
      case 'herald_exposures_inserted_total':
        sample.inserted = value;
        break;
      case 'herald_exposures_duplicates_total':
        sample.duplicates = value;
        break;
      case 'herald_exposures_dead_letter_total':
        sample.deadLetters = value;
        break;
      case 'herald_consumer_batch_seconds_count':
        if (ok) sample.batches = value;
        else sample.failedBatches += value;
        break;
      case 'herald_consumer_batch_seconds_sum':
        if (ok) sample.batchSeconds = value;
        break;
      case 'herald_consumer_batch_seconds_bucket':
        if (ok) sample.buckets.push([Number(labelValue(labels, 'le')?.replace('+Inf', 'Infinity')), value]);
        break;
    }
  }
  sample.buckets.sort((a, b) => a[0] - b[0]);
  return sample;
}

export interface BatchFigures {
  batches: number;
  /** Rows per batch, on average. */
  meanSize: number | null;
  meanMs: number | null;
  /** Upper bound of the histogram bucket holding the 99th percentile (null past the last finite bound). */
  p99MsAtMost: number | null;
}

/** The batches written between two samples. */
export function batchesBetween(before: ConsumerSample, after: ConsumerSample): BatchFigures {
  const batches = after.batches - before.batches;
  const inserted = after.inserted - before.inserted;
  if (batches <= 0) return { batches: 0, meanSize: null, meanMs: null, p99MsAtMost: null };
  const wanted = 0.99 * batches;
  let p99: number | null = null;
  for (const [bound, count] of after.buckets) {
    const earlier = before.buckets.find(([b]) => b === bound)?.[1] ?? 0;
    if (count - earlier >= wanted) {
      p99 = Number.isFinite(bound) ? bound * 1000 : null;
      break;
    }
  }
  return {
    batches,
    meanSize: (inserted + (after.duplicates - before.duplicates)) / batches,
    meanMs: ((after.batchSeconds - before.batchSeconds) / batches) * 1000,
    p99MsAtMost: p99,
  };
}
