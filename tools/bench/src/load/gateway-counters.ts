/**
 * Any metric of a gateway's /metrics by name, summed over its labels: the load scenarios read
 * counters and gauges that gateway-metrics.ts does not (acks, open connections, heap).
 */
import { metricSamples } from '@herald/testing';

export const GatewayMetric = {
  CONNECTIONS: 'herald_gateway_connections',
  ACKS: 'herald_gateway_acks_total',
  PUSHED: 'herald_gateway_messages_pushed_total',
  REFUSED: 'herald_gateway_connects_refused_total',
  CLOSES: 'herald_gateway_closes_total',
  EXPOSURES_PENDING: 'herald_exposures_pending',
  HEAP_USED: 'nodejs_heap_size_used_bytes',
} as const;

export type Counters = ReadonlyMap<string, number>;

/** `adminUrl`: where the gateway serves /metrics (AppProcess.adminUrl, its ADMIN_PORT). */
export async function readCounters(adminUrl: string): Promise<Counters> {
  const res = await fetch(`${adminUrl}/metrics`);
  if (res.status !== 200) throw new Error(`GET ${adminUrl}/metrics answered ${res.status}`);
  return parseCounters(await res.text());
}

/** Every sample line as name -> value, samples of one name (different labels) added up. */
export function parseCounters(text: string): Counters {
  const counters = new Map<string, number>();
  for (const { name, value } of metricSamples(text)) {
    if (Number.isFinite(value)) counters.set(name, (counters.get(name) ?? 0) + value);
  }
  return counters;
}

/** A metric of `counters`, 0 when absent (a labelled counter has no line before its first increment). */
export function metric(counters: Counters, name: string): number {
  return counters.get(name) ?? 0;
}
