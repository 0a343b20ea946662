/**
 * The BullMQ queue of category fan-outs: one job per category message, its job id the message id
 * (adding a job whose id exists is a no-op, so a repeated request never fans out twice), its
 * progress the walk's `FanoutProgress`.
 */
import { Queue, type Job } from 'bullmq';
import { keys, NO_PROGRESS, queues, type FanoutProgress, type HeraldRedis } from '@herald/redis';

export interface FanoutJobData {
  messageId: string;
  category: string;
}

export type FanoutJob = Job<FanoutJobData, FanoutProgress>;
export type FanoutQueue = Queue<FanoutJobData, FanoutProgress>;

/** What a producer sees of a fan-out (GET /v1/messages/{id}/fanout). */
export interface FanoutStatus {
  messageId: string;
  category: string;
  state: string;
  attempts: number;
  progress: Omit<FanoutProgress, 'cursor'>;
  failedReason: string | null;
  finishedAt: string | null;
}

const DAY_SECONDS = 24 * 3600;

export function createFanoutQueue(connection: HeraldRedis, attempts: number): FanoutQueue {
  return new Queue<FanoutJobData, FanoutProgress>(queues.fanout, {
    connection,
    prefix: keys.queuePrefix,
    defaultJobOptions: {
      attempts,
      backoff: { type: 'exponential', delay: 500 },
      // Kept a day for GET …/fanout; failed ones a week, for operators.
      removeOnComplete: { age: DAY_SECONDS },
      removeOnFail: { age: 7 * DAY_SECONDS },
    },
  });
}

const JOB_NAME = 'category';

export async function enqueueFanout(queue: FanoutQueue, data: FanoutJobData): Promise<void> {
  await queue.add(JOB_NAME, data, { jobId: data.messageId });
}

/** Several fan-outs in one round trip (a batch's category messages); the same job ids as enqueueFanout. */
export async function enqueueFanouts(queue: FanoutQueue, jobs: FanoutJobData[]): Promise<void> {
  if (jobs.length === 0) return;
  await queue.addBulk(jobs.map((data) => ({ name: JOB_NAME, data, opts: { jobId: data.messageId } })));
}

/** A job's progress as recorded, or none yet. */
export function progressOf(job: FanoutJob): FanoutProgress | undefined {
  const p = job.progress as unknown;
  return typeof p === 'object' && p !== null && typeof (p as FanoutProgress).cursor === 'string'
    ? (p as FanoutProgress)
    : undefined;
}

export async function fanoutStatus(queue: FanoutQueue, messageId: string): Promise<FanoutStatus | null> {
  const job = (await queue.getJob(messageId)) as FanoutJob | undefined;
  if (!job) return null;
  const { cursor: _cursor, ...progress } = progressOf(job) ?? NO_PROGRESS;
  return {
    messageId,
    category: job.data.category,
    state: await job.getState(),
    attempts: job.attemptsMade,
    progress,
    failedReason: job.failedReason ?? null,
    finishedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
  };
}
