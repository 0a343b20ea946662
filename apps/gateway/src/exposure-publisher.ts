/**
 * Publishes an exposure event for every message pushed, without ever making delivery wait:
 * `record()` only hands the event to the Pub/Sub client's batcher (size and latency bounded by
 * config). A failed publish is retried with backoff; `close()` waits for everything outstanding.
 *
 * The bounded buffer with spill to durable storage while Pub/Sub is down is the next step
 * (see docs/ARCHITECTURE.md); today events wait in memory while retries go on.
 */
import { randomUUID } from 'node:crypto';
import type { Topic } from '@google-cloud/pubsub';
import type { ExposureEvent } from '@herald/types';
import type { Logger } from '@herald/logger';
import type { GatewayMetrics } from './metrics';

const RETRY_BASE_MS = 200;
const RETRY_MAX_MS = 10_000;

export class ExposurePublisher {
  private pending = 0;
  private readonly idle: Array<() => void> = [];
  private closing?: Promise<void>;
  private readonly retryTimers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly topic: Topic,
    private readonly gatewayId: string,
    private readonly metrics: GatewayMetrics,
    private readonly logger: Logger,
  ) {}

  /** Record that `messageId` was pushed to a session; returns at once. */
  record(
    messageId: string,
    category: string | null,
    userId: string,
    sessionId: string,
    via: ExposureEvent['via'],
    deliveredAt = new Date().toISOString(),
  ): void {
    const event: ExposureEvent = {
      eventId: randomUUID(),
      messageId,
      userId,
      category,
      sessionId,
      gatewayId: this.gatewayId,
      deliveredAt,
      via,
    };
    this.pending++;
    this.metrics.exposuresPending.inc();
    this.publish(Buffer.from(JSON.stringify(event)), 0);
  }

  private publish(data: Buffer, attempt: number): void {
    this.topic.publishMessage({ data }).then(
      () => {
        this.metrics.exposures.inc({ outcome: 'published' });
        this.settle();
      },
      (err: unknown) => {
        this.metrics.exposures.inc({ outcome: 'retried' });
        const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** attempt);
        if (attempt === 0 || attempt % 10 === 0) this.logger.warn({ err, attempt, delay }, 'exposure publish failed, retrying');
        const timer = setTimeout(() => {
          this.retryTimers.delete(timer);
          this.publish(data, attempt + 1);
        }, delay);
        this.retryTimers.add(timer);
      },
    );
  }

  private settle(): void {
    this.pending--;
    this.metrics.exposuresPending.dec();
    if (this.pending === 0) for (const resolve of this.idle.splice(0)) resolve();
  }

  get outstanding(): number {
    return this.pending;
  }

  /** Resolves when every recorded event has been accepted by Pub/Sub. */
  async flush(): Promise<void> {
    await this.topic.flush();
    if (this.pending > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  /** Flush under a deadline; what is still outstanding at the deadline is logged as lost. */
  close(timeoutMs: number): Promise<void> {
    this.closing ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
      const result = await Promise.race([this.flush().then(() => 'flushed' as const), deadline]);
      clearTimeout(timer);
      if (result === 'timeout') {
        this.metrics.exposures.inc({ outcome: 'failed' }, this.pending);
        this.logger.error({ outstanding: this.pending }, 'exposure events not published before shutdown deadline');
      }
      for (const t of this.retryTimers) clearTimeout(t);
      this.retryTimers.clear();
    })();
    return this.closing;
  }
}
