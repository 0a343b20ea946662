/**
 * The gateway's exposure events, read from its /metrics: the push scenarios keep exposure
 * publishing on and check it kept up (one event per message pushed) after each measurement.
 */
import { sampleGateway, type GatewaySample } from '../../herald/gateway-metrics';

const POLL_MS = 200;

/**
 * Events Pub/Sub has taken, from memory (`published`) or replayed from the Redis spill
 * (`replayed`). The gateway in this tree counts a replayed event under `replayed` only.
 */
export const exposuresTaken = (sample: GatewaySample): number => sample.published + sample.replayed;

/**
 * The gateway's sample once Pub/Sub has taken at least `taken` events in all (exposuresTaken)
 * and nothing is pending in memory or in the spill; the last sample if that takes longer than
 * `timeoutMs`.
 */
export async function exposuresSettled(baseUrl: string, taken: number, timeoutMs: number, signal: AbortSignal): Promise<GatewaySample> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal.throwIfAborted();
    const sample = await sampleGateway(baseUrl);
    if ((exposuresTaken(sample) >= taken && sample.pending === 0 && sample.spillLength === 0) || Date.now() > deadline) return sample;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
