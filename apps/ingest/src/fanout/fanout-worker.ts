/**
 * Runs category fan-out jobs in the ingest process. The walk awaits Redis after every chunk, so
 * the API stays responsive while a large category is written. A job that fails (Redis down, the
 * process killed) is retried with backoff and resumes from its last recorded progress.
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'bullmq';
import type { Logger } from '@herald/logger';
import { DeliveryError, fanOutToCategory, keys, queues, type FanoutProgress, type HeraldRedis } from '@herald/redis';
import type { IngestMetrics } from '../metrics';
import { deliveryFailure } from '../send-message';
import { progressOf, type FanoutJob, type FanoutJobData } from './fanout-queue';

/** Times a job may be taken over from a dead process before it is marked failed. */
const MAX_STALLS = 5;

export interface FanoutWorkerDeps {
  /** The queue connection (BullMQ duplicates it for its blocking reads). */
  connection: HeraldRedis;
  /** The commands connection the deliveries go through. */
  redis: HeraldRedis;
  inboxCap: number;
  /** An offline list's lifetime after its last write (MESSAGE_MAX_TTL_SECONDS). */
  inboxTtlSeconds: number;
  chunkSize: number;
  concurrency: number;
  /** Lock duration and stalled-job check interval (FANOUT_LOCK_MS). */
  lockMs: number;
  metrics: IngestMetrics;
  logger: Logger;
}

export function startFanoutWorker(deps: FanoutWorkerDeps): Worker<FanoutJobData, FanoutProgress> {
  const { metrics, logger } = deps;

  async function run(job: FanoutJob): Promise<FanoutProgress> {
    const started = performance.now();
    metrics.fanoutActive.inc();
    try {
      const result = await fanOutToCategory(deps.redis, {
        messageId: job.data.messageId,
        category: job.data.category,
        cap: deps.inboxCap,
        inboxTtlSeconds: deps.inboxTtlSeconds,
        chunkSize: deps.chunkSize,
        from: progressOf(job),
        async onChunk(progress, chunk) {
          metrics.fanoutMembers.inc(chunk.delivered);
          metrics.inboxDropped.inc(chunk.dropped);
          await job.updateProgress(progress);
        },
      });
      metrics.fanoutSeconds.observe((performance.now() - started) / 1000);
      return result;
    } catch (err) {
      // The failed chunk's members that did get the id are counted now: a retry skips them.
      if (err instanceof DeliveryError) metrics.fanoutMembers.inc(err.counts.delivered);
      throw deliveryFailure(metrics, err);
    } finally {
      metrics.fanoutActive.dec();
    }
  }

  const worker = new Worker<FanoutJobData, FanoutProgress>(queues.fanout, run, {
    connection: deps.connection,
    prefix: keys.queuePrefix,
    concurrency: deps.concurrency,
    // A job whose process died is found by the stalled check once its lock has run out, and run
    // again from its recorded progress; it may stall this often before it counts as failed.
    lockDuration: deps.lockMs,
    stalledInterval: deps.lockMs,
    maxStalledCount: MAX_STALLS,
  });
  worker.on('completed', (job, result) => {
    metrics.fanoutJobs.inc({ result: 'completed' });
    logger.info({ messageId: job.data.messageId, category: job.data.category, ...result }, 'fan-out done');
  });
  worker.on('failed', (job, err) => {
    const final = !job || job.attemptsMade >= (job.opts.attempts ?? 1);
    metrics.fanoutJobs.inc({ result: final ? 'failed' : 'retried' });
    logger.warn({ err, messageId: job?.data.messageId, attempts: job?.attemptsMade, final }, 'fan-out attempt failed');
  });
  worker.on('error', (err) => logger.warn({ err }, 'fan-out worker error'));
  return worker;
}
