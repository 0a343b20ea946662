/** What the bench and the producer process (producer-process.ts) say to each other. */
import type { Target } from './client-protocol';

export interface SetupRequest {
  type: 'setup';
  target: Target;
  redisUrl: string;
  /** The recipients, picked round-robin. */
  userIds: string[];
  /** TTL of Herald's message bodies. */
  ttlSeconds: number;
}

export interface RunRequest {
  type: 'run';
  /** Messages per second, each to one user. */
  rate: number;
  seconds: number;
}

export interface RunReply {
  /** Messages written (Herald: stored and delivered; baseline: published). */
  sent: number;
  failed: number;
  firstError: string | null;
  /** When the first message was due, epoch ms. */
  startedAtMs: number;
  /** When the last message's writes were confirmed by Redis, epoch ms. */
  settledAtMs: number;
  /** Worst delay between a message's scheduled time and its send call (timer granularity, a busy CPU). */
  maxLagMs: number;
}

export interface CloseRequest {
  type: 'close';
}

export type ProducerRequest = SetupRequest | RunRequest | CloseRequest;
