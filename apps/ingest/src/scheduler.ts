/**
 * Scheduled sends (POST /v1/messages with `sendAt`): each message is a record in Redis
 * (`msg:{<id>}:rec`, state `scheduled`) plus one BullMQ delayed job on the queue
 * `herald-scheduled` whose job id is the message id, so it exists once however many replicas or
 * repeats add it. Every ingest replica runs a worker (SCHEDULE_WORKER); BullMQ hands a due job to
 * one of them, and hands it again to another if that one dies mid-send (the stalled check).
 *
 * A job that runs moves the record to `sending` and fixes the send time once (fire-scheduled-1.lua),
 * then sends exactly as an immediate message would (sendMessage), repeatably: the same id and
 * creation time on every run, deliveries skipping users who already got the id, so a run after a
 * crash never delivers twice. The store makes the record `sent`. A record found `recalled` (the
 * producer's DELETE before sendAt), `sent` (a job run twice) or gone sends nothing.
 *
 * The Queue is on the commands connection, so that adding a job in a request fails fast when
 * Redis is away (the request answers 5xx) instead of waiting forever; the Worker is on the queue
 * connection (retries forever, BullMQ's requirement), which it duplicates for its blocking reads.
 */
import { Queue, Worker, type Job } from 'bullmq';
import type { Logger } from '@herald/logger';
import {
  fireScheduled,
  keys,
  MessageRecalledError,
  queues,
  scheduleRecord,
  unscheduleRecord,
  type HeraldRedis,
  type RecordInput,
} from '@herald/redis';
import type { IngestMetrics } from './metrics';
import { scheduledEvent } from './events/event-outbox';
import { sendMessage, type Recipients, type SendMessageDeps, type SendMessageInput } from './sending/send-message';
import { closeQueue, openQueue } from './queues';

/** What a job carries: the send, as the request asked it. */
export interface ScheduledJobData {
  recipients: Recipients;
  payload: unknown;
  ttlSeconds: number;
  record: RecordInput;
  /** The time asked (epoch ms), for the `sent` event; absent in jobs queued before it was added. */
  sendAt?: number;
  /** The message's Web Push notification, when it has one. */
  webPush?: SendMessageInput['webPush'];
}

/** What a job ended with. */
export type ScheduledOutcome = 'sent' | 'cancelled' | 'skipped';

const JOB_NAME = 'send';
/** Attempts of a job that fails (Redis refusing the writes): 1 s, 2 s, 4 s … about 17 minutes in all. */
const ATTEMPTS = 10;
const DAY_MS = 24 * 3600 * 1000;
/** Times a job may be taken over from a dead process before it counts as failed. */
const MAX_STALLS = 5;

export interface SchedulerOptions {
  /** The commands connection: the records and the sends. */
  redis: HeraldRedis;
  /**
   * The connection that adds and removes jobs: not the commands connection, because BullMQ
   * defines its ~50 scripts on the connection it is given, and ioredis copies every script of a
   * connection onto each auto-pipeline (one per event-loop turn): ~1 µs per script per pipeline
   * on every request (docs/BENCHMARKS.md). A connection that fails fast (an add in a request).
   */
  jobs: HeraldRedis;
  /** The queue connection, for the worker; none when this process runs no worker. */
  queueConnection?: HeraldRedis;
  concurrency: number;
  /** How long deliveries under a scheduled send are remembered (IDEMPOTENCY_TTL_SECONDS). */
  rememberSeconds: number;
  send: SendMessageDeps;
  metrics: IngestMetrics;
  logger: Logger;
}

export class Scheduler {
  private readonly queue: Queue<ScheduledJobData>;
  private readonly worker: Worker<ScheduledJobData, ScheduledOutcome> | undefined;
  private readonly log: Logger;
  private closing: Promise<void> | undefined;

  constructor(private readonly opts: SchedulerOptions) {
    if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) {
      throw new RangeError(`Scheduler: concurrency must be a whole number of at least 1, got ${opts.concurrency}`);
    }
    this.log = opts.logger.child({ module: 'scheduler' });
    this.queue = openQueue<ScheduledJobData>(
      queues.scheduled,
      opts.jobs,
      {
        attempts: ATTEMPTS,
        backoff: { type: 'exponential', delay: 1000 },
        // The record says what became of a message; a failed job is kept a week for operators.
        removeOnComplete: true,
        removeOnFail: { age: (7 * DAY_MS) / 1000 },
      },
      this.log,
    );
    this.worker = opts.queueConnection && this.startWorker(opts.queueConnection);
  }

  /**
   * Hold a message until `sendAt` (epoch ms): its record first, then its job. When the job cannot
   * be added, the record this call wrote is removed and the error thrown (the request answers
   * 5xx). A record already there (a repeat under an Idempotency-Key) is left as it is; its job is
   * added again only while it is still `scheduled` (a no-op when the job exists).
   */
  async schedule(id: string, input: SendMessageInput, sendAt: number): Promise<void> {
    const { recipients } = input;
    const state = await scheduleRecord(this.opts.redis, {
      id,
      sendAt,
      ttlSeconds: input.ttlSeconds,
      category: 'category' in recipients ? recipients.category : null,
      userIds: 'userIds' in recipients ? recipients.userIds : [],
      input: input.record,
    });
    if (state !== 'created' && state !== 'scheduled') return;
    const data: ScheduledJobData = {
      recipients,
      payload: input.payload,
      ttlSeconds: input.ttlSeconds,
      record: input.record ?? {},
      sendAt,
      ...(input.webPush ? { webPush: input.webPush } : {}),
    };
    try {
      await this.queue.add(JOB_NAME, data, { jobId: id, delay: Math.max(0, sendAt - Date.now()) });
    } catch (err) {
      if (state === 'created') {
        await unscheduleRecord(this.opts.redis, id).catch((undoErr: unknown) =>
          this.log.error({ err: undoErr, messageId: id }, 'could not remove the record of a message whose job was not added'),
        );
      }
      throw err;
    }
    if (state === 'created') {
      this.opts.metrics.scheduled.inc({ outcome: 'scheduled' });
      const facts = { producer: input.record?.producer ?? '', category: 'category' in recipients ? recipients.category : null };
      await this.opts.send.events?.append([scheduledEvent(id, facts, sendAt)]);
    }
  }

  /**
   * Remove a message's delayed job (DELETE /v1/messages/{id} before sendAt, after it moved the
   * record from `scheduled` to `recalled`). True when a job was removed; false when there was
   * none or it is running (it then finds the record recalled and sends nothing).
   */
  async dropScheduledJob(id: string): Promise<boolean> {
    const removed = (await this.queue.remove(id)) === 1;
    if (removed) this.opts.metrics.scheduled.inc({ outcome: 'cancelled' });
    return removed;
  }

  /** Stop taking jobs, let running ones finish, close the queue. Idempotent; every step runs. */
  close(): Promise<void> {
    this.closing ??= closeQueue(this.queue, this.worker);
    return this.closing;
  }

  private startWorker(connection: HeraldRedis): Worker<ScheduledJobData, ScheduledOutcome> {
    const worker = new Worker<ScheduledJobData, ScheduledOutcome>(queues.scheduled, (job) => this.run(job), {
      connection,
      prefix: keys.queuePrefix,
      concurrency: this.opts.concurrency,
      maxStalledCount: MAX_STALLS,
    });
    worker.on('failed', (job, err) => {
      const final = !job || job.attemptsMade >= (job.opts.attempts ?? 1);
      if (final) this.opts.metrics.scheduled.inc({ outcome: 'failed' });
      this.log.warn({ err, messageId: job?.id, attempts: job?.attemptsMade, final }, 'scheduled send attempt failed');
    });
    worker.on('error', (err) => this.log.warn({ err }, 'scheduled worker error'));
    return worker;
  }

  /** One job: fire the record, then send (see the header). */
  private async run(job: Job<ScheduledJobData>): Promise<ScheduledOutcome> {
    const id = job.id as string;
    const fired = await fireScheduled(this.opts.redis, id);
    if ('skip' in fired) {
      // Recalled while its job was already running (a job the DELETE removed never runs, and
      // dropScheduledJob counted it).
      if (fired.skip === 'recalled') return this.cancelled(id);
      if (fired.skip === 'missing') this.log.warn({ messageId: id }, 'scheduled message has no record (expired?): nothing sent');
      else this.log.debug({ messageId: id, state: fired.skip }, 'scheduled message already sent');
      return 'skipped';
    }
    const { recipients, payload, ttlSeconds, record, webPush } = job.data;
    try {
      const sent = await sendMessage(this.opts.send, {
        recipients,
        payload,
        ttlSeconds,
        record,
        webPush,
        repeatable: { id, createdAt: fired.send, rememberSeconds: this.opts.rememberSeconds },
        scheduledFor: job.data.sendAt ?? job.timestamp + (job.opts.delay ?? 0),
      });
      this.opts.metrics.scheduled.inc({ outcome: 'sent' });
      this.log.debug({ ...sent, createdAt: fired.send }, 'scheduled message sent');
      return 'sent';
    } catch (err) {
      // Recalled between the fire and the store: nothing was stored.
      if (err instanceof MessageRecalledError) return this.cancelled(id);
      throw err;
    }
  }

  private cancelled(id: string): ScheduledOutcome {
    this.opts.metrics.scheduled.inc({ outcome: 'cancelled' });
    this.log.debug({ messageId: id }, 'scheduled message recalled before it was sent');
    return 'cancelled';
  }
}
