/** What the bench and the direct publisher process (publisher-process.ts) say to each other. */

export interface PublisherSetup {
  type: 'setup';
  emulatorHost: string;
  projectId: string;
  topic: string;
  /** The events' gatewayId: how this source's rows are told apart in Postgres. */
  gatewayId: string;
  /** Users the events name, round-robin: `${userPrefix}0` … (one session each). */
  userPrefix: string;
  users: number;
  /** The Pub/Sub client's batching, as the gateway's EXPOSURE_BATCH_MAX_MESSAGES / _MS. */
  batchMessages: number;
  batchMs: number;
}

export interface PublisherRun {
  type: 'run';
  /** Events per second, open loop. */
  rate: number;
  seconds: number;
}

export interface PublisherReply {
  /** publish() calls made. */
  events: number;
  /** Events Pub/Sub accepted. */
  published: number;
  failed: number;
  firstError: string | null;
  /** When the first event was due, epoch ms. */
  startedAtMs: number;
  /** Worst delay between an event's scheduled time and its publish() call. */
  maxLagMs: number;
}

export interface PublisherClose {
  type: 'close';
}

export type PublisherRequest = PublisherSetup | PublisherRun | PublisherClose;
