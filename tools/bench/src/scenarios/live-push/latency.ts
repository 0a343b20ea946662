/**
 * Latency histograms that cross process boundaries: each client process records into its own
 * HdrHistogram (microseconds, 3 significant digits), sends it to the bench compressed, and the
 * bench adds them up before reading percentiles, so the percentiles are those of every message.
 */
import { performance } from 'node:perf_hooks';
import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';

export interface LatencyPercentiles {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  count: number;
}

export function newLatencyHistogram(): Histogram {
  return build({ numberOfSignificantValueDigits: 3 });
}

export const encodeHistogram = (histogram: Histogram): string => encodeIntoCompressedBase64(histogram);

/** One histogram holding every value of the encoded ones. */
export function mergeHistograms(encoded: readonly string[]): Histogram {
  const merged = newLatencyHistogram();
  for (const text of encoded) {
    const part = decodeFromCompressedBase64(text);
    merged.add(part);
    part.destroy();
  }
  return merged;
}

export function percentiles(histogram: Histogram): LatencyPercentiles {
  const ms = (micros: number) => Math.round(micros) / 1000;
  return {
    p50Ms: ms(histogram.getValueAtPercentile(50)),
    p99Ms: ms(histogram.getValueAtPercentile(99)),
    maxMs: ms(histogram.maxValue),
    count: histogram.totalCount,
  };
}

/** Milliseconds since the epoch with sub-millisecond precision, comparable across processes. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
