/**
 * Where a measurement's exposure events come from, behind one interface:
 * - `gateway`: the product's path. A gateway process pushes messages, written to Redis the way
 *   ingest writes them by an open-loop producer at the rate, to connected clients that ack; every
 *   push is an exposure event the gateway publishes (gateway-source.ts).
 * - `direct`: a process publishes ready-made events of the same shape at the rate
 *   (direct-source.ts): the consumer → Postgres leg without the gateway's share of the CPU.
 */
export type SourceKind = 'gateway' | 'direct';
export const SOURCES: readonly SourceKind[] = ['gateway', 'direct'];

export interface SourceRun {
  /** Events made: pushes the gateway recorded (messages its clients received), or publish() calls. */
  events: number;
  /** Events Pub/Sub accepted. */
  published: number;
  /** Events that never reached Pub/Sub (gateway: dropped; direct: publish failed). */
  failed: number;
  /** Messages the producer wrote (gateway) or events scheduled (direct). */
  sent: number;
  /** Worst lag of the open-loop sender behind its schedule. */
  senderLagMs: number;
  /** Gateway: exposure events that went through its Redis spill. */
  spilled: number | null;
}

export interface EventSource {
  kind: SourceKind;
  /** Every event of this source carries it: how its rows are found in Postgres. */
  gatewayId: string;
  /** The source's processes by role, for their CPU time (e.g. { gateway: [pid], clients: [...] }). */
  cpuGroups: Record<string, number[]>;
  /**
   * Make events at `rate` a second for `seconds`; resolves once every one of them was published
   * to Pub/Sub (or given up on), with the counts of this run only.
   */
  run(rate: number, seconds: number, signal: AbortSignal, progress: (line: string) => void): Promise<SourceRun>;
  /** Stops what the source started; twice is a no-op. */
  stop(): Promise<void>;
}
