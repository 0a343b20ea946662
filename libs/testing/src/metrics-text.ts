/**
 * Reading a Prometheus text page (`GET /metrics`) in tests and tools: one parser for every
 * counter and gauge a test or a benchmark looks at.
 */

export interface MetricSample {
  name: string;
  /** The label list as written, without braces (`code="4008",reason="x"`); '' when none. */
  labels: string;
  value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/;

/** Every sample line of the page (comments and blank lines skipped). */
export function metricSamples(text: string): MetricSample[] {
  const out: MetricSample[] = [];
  for (const line of text.split('\n')) {
    if (line.length === 0 || line.startsWith('#')) continue;
    const match = SAMPLE_LINE.exec(line);
    if (match) out.push({ name: match[1], labels: match[2] ?? '', value: Number(match[3]) });
  }
  return out;
}

/** The value of one label of a sample's label list, or undefined. */
export function labelValue(labels: string, label: string): string | undefined {
  return new RegExp(`(?:^|,)${label}="([^"]*)"`).exec(labels)?.[1];
}

/**
 * The sum of the series of `name` whose labels include every pair of `labels` (a label list as
 * Prometheus writes it, e.g. `code="4008"`); 0 when there is none (a labelled counter has no
 * line before its first increment).
 */
export function metricValue(text: string, name: string, labels = ''): number {
  const wanted = labels.split(',').filter(Boolean);
  let total = 0;
  for (const sample of metricSamples(text)) {
    if (sample.name !== name) continue;
    const have = sample.labels.split(',');
    if (wanted.every((pair) => have.includes(pair))) total += sample.value;
  }
  return total;
}

/** `metricValue` of the page at `${baseUrl}/metrics`; for an app process, pass its `adminUrl`. */
export async function fetchMetric(baseUrl: string, name: string, labels = ''): Promise<number> {
  const res = await fetch(`${baseUrl}/metrics`);
  if (res.status !== 200) throw new Error(`GET ${baseUrl}/metrics answered ${res.status}`);
  return metricValue(await res.text(), name, labels);
}
