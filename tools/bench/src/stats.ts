/** Latency percentiles with HdrHistogram (3 significant digits), values in microseconds. */
import { build, type Histogram } from 'hdr-histogram-js';

export interface LatencySummary {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  count: number;
}

export class LatencyRecorder {
  private readonly histogram: Histogram = build({ numberOfSignificantValueDigits: 3 });

  /** Record one latency; negatives (clock granularity) count as 0. */
  record(micros: number): void {
    this.histogram.recordValue(Math.max(0, Math.round(micros)));
  }

  summary(): LatencySummary {
    const h = this.histogram;
    const ms = (micros: number) => Math.round(micros) / 1000;
    return {
      p50Ms: ms(h.getValueAtPercentile(50)),
      p99Ms: ms(h.getValueAtPercentile(99)),
      maxMs: ms(h.maxValue),
      count: h.totalCount,
    };
  }
}
