/**
 * Web Push from ingest (issue 19, docs/WEBPUSH.md): the BullMQ queue `herald-webpush`, one job per
 * (message, user) whose delivery reached no gateway (deliver-4.lua's SPUBLISH count was 0), and
 * the worker that sends them (push-job.ts). A category message gets one `category` job instead,
 * which walks the members and queues the per-user jobs of the offline ones (category-push.ts).
 *
 * As for scheduled sends (scheduler.ts): the Queue adds jobs on a connection of its own (`log`
 * role: fails fast in a request, not auto-pipelined), the Worker runs on the `queue` connection
 * (retries forever), WEBPUSH_WORKER off leaves a replica queueing only. The job id is derived from
 * (message, user), so a retried request (Idempotency-Key) does not queue a second nudge.
 * Retries: WEBPUSH_ATTEMPTS with an exponential backoff from WEBPUSH_BACKOFF_MS; a 429 moves the
 * job back to delayed for its Retry-After (not an attempt), at most WEBPUSH_ATTEMPTS times.
 */
import { createHash } from 'node:crypto';
import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import type { Logger } from '@herald/logger';
import { keys, queues, type HeraldRedis } from '@herald/redis';
import type { WebPushNotification, WebPushUrgency } from '@herald/types';
import { PushThrottled, runPushJob, type PushJobData, type PushJobDeps, type PushJobOutcome } from './push-job';
import { runCategoryPush, type CategoryPushData, type CategoryPushOutcome } from './category-push';
import { closeQueue, openQueue } from '../queues';

const JOB_NAME = 'push';
const CATEGORY_JOB_NAME = 'category';

type JobData = PushJobData | CategoryPushData;
type JobOutcome = PushJobOutcome | CategoryPushOutcome;
const DAY_MS = 24 * 3600 * 1000;

/** What a message asks of Web Push (POST /v1/messages `notification`, `urgency`). */
export interface WebPushRequest {
  notification: WebPushNotification;
  urgency?: WebPushUrgency;
}

/** A message delivered to users some of whom had no live session. */
export interface OfflineDelivery {
  messageId: string;
  expiresAt: number;
  replaceKey?: string;
  userIds: readonly string[];
  push: WebPushRequest;
}

export interface WebPushQueueOptions extends Omit<PushJobDeps, 'log'> {
  /** Adds jobs (a connection of its own, see the header). */
  jobs: HeraldRedis;
  /** The worker's connection; none when this process sends no pushes. */
  queueConnection?: HeraldRedis;
  concurrency: number;
  logger: Logger;
}

/** A category message (sendMessage): its members are walked by a `category` job. */
export interface CategoryDelivery {
  messageId: string;
  expiresAt: number;
  replaceKey?: string;
  category: string;
  /** Its entry in the category's log. */
  entry: string;
  push: WebPushRequest;
}

/** The job id of (message, user): BullMQ ids may not hold `:`, which user ids may. */
export function pushJobId(messageId: string, userId: string): string {
  return `${messageId}.${createHash('sha256').update(userId).digest('base64url').slice(0, 22)}`;
}

export class WebPushQueue {
  private readonly queue: Queue<JobData>;
  private readonly worker: Worker<JobData, JobOutcome> | undefined;
  private readonly log: Logger;
  private closing: Promise<void> | undefined;

  constructor(private readonly opts: WebPushQueueOptions) {
    if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) {
      throw new RangeError(`WebPushQueue: concurrency must be a whole number of at least 1, got ${opts.concurrency}`);
    }
    this.log = opts.logger.child({ module: 'webpush' });
    this.queue = openQueue<JobData>(
      queues.webpush,
      opts.jobs,
      { attempts: opts.attempts, backoff: { type: 'exponential', delay: opts.backoffMs }, removeOnComplete: true, removeOnFail: { age: DAY_MS / 1000 } },
      this.log,
    );
    this.worker = opts.queueConnection && this.startWorker(opts.queueConnection);
  }

  /**
   * Queue one job per offline user. Never throws: the message is delivered already (the nudge is
   * a bonus); a failure is counted and logged.
   */
  async enqueue(d: OfflineDelivery): Promise<void> {
    if (d.userIds.length === 0) return;
    try {
      await this.queueUsers(d, d.userIds);
    } catch (err) {
      this.log.error({ err, messageId: d.messageId, users: d.userIds.length }, 'could not queue Web Push jobs; those users get no nudge');
    }
  }

  /** Queue the `category` job of a category message. Never throws, as `enqueue`. */
  async enqueueCategory(d: CategoryDelivery): Promise<void> {
    const data: CategoryPushData = {
      messageId: d.messageId,
      category: d.category,
      entry: d.entry,
      notification: d.push.notification,
      urgency: d.push.urgency,
      replaceKey: d.replaceKey,
      expiresAt: d.expiresAt,
    };
    try {
      await this.queue.add(CATEGORY_JOB_NAME, data, { jobId: d.messageId });
      this.opts.metrics.webPushJobs.inc({ outcome: 'queued' });
    } catch (err) {
      this.opts.metrics.webPushJobs.inc({ outcome: 'failed' });
      this.log.error({ err, messageId: d.messageId, category: d.category }, "could not queue a category's Web Push job; its members get no nudge");
    }
  }

  /** The per-user jobs of a message (idempotent per user); throws when queueing failed. */
  private async queueUsers(d: Omit<OfflineDelivery, 'userIds'> & { category?: string; entry?: string }, userIds: readonly string[]): Promise<void> {
    const { notification, urgency } = d.push;
    const where = d.category !== undefined ? { category: d.category, entry: d.entry } : {};
    const jobs = userIds.map((userId) => ({
      name: JOB_NAME,
      data: { messageId: d.messageId, userId, notification, urgency, replaceKey: d.replaceKey, expiresAt: d.expiresAt, ...where },
      opts: { jobId: pushJobId(d.messageId, userId) },
    }));
    try {
      await this.queue.addBulk(jobs);
      this.opts.metrics.webPushJobs.inc({ outcome: 'queued' }, jobs.length);
    } catch (err) {
      this.opts.metrics.webPushJobs.inc({ outcome: 'failed' }, jobs.length);
      throw err;
    }
  }

  /** Stop taking jobs, let running ones finish, close the queue. Idempotent; every step runs. */
  close(): Promise<void> {
    this.closing ??= closeQueue(this.queue, this.worker);
    return this.closing;
  }

  private startWorker(connection: HeraldRedis): Worker<JobData, JobOutcome> {
    const deps: PushJobDeps = { ...this.opts, log: this.log };
    const worker = new Worker<JobData, JobOutcome>(queues.webpush, (job, token) => this.run(deps, job, token), {
      connection,
      prefix: keys.queuePrefix,
      concurrency: this.opts.concurrency,
    });
    worker.on('completed', (_job, outcome) => this.opts.metrics.webPushJobs.inc({ outcome }));
    worker.on('failed', (job, err) => this.log.debug({ err, jobId: job?.id, attempts: job?.attemptsMade }, 'webpush attempt failed'));
    worker.on('error', (err) => this.log.warn({ err }, 'webpush worker error'));
    return worker;
  }

  private async run(deps: PushJobDeps, job: Job<JobData>, token: string | undefined): Promise<JobOutcome> {
    if (job.name === CATEGORY_JOB_NAME) {
      const category = job as Job<CategoryPushData>;
      return runCategoryPush(deps.redis, category, (data, userIds) => this.queueUsers({ ...data, push: { notification: data.notification, urgency: data.urgency } }, userIds));
    }
    try {
      return await runPushJob(deps, job as Job<PushJobData>);
    } catch (err) {
      if (!(err instanceof PushThrottled)) throw err;
      await job.moveToDelayed(Date.now() + err.delayMs, token);
      throw new DelayedError();
    }
  }
}
