/**
 * The BullMQ queues ingest adds jobs to (scheduled sends, Web Push, webhook batches): each on
 * Herald's queue prefix (one hash tag, so one Cluster slot), on the connection given (a `log`-role
 * one, never the commands connection: scheduler.ts says why), its errors logged, never thrown.
 */
import { Queue, type DefaultJobOptions, type Worker } from 'bullmq';
import type { Logger } from '@herald/logger';
import { keys, type HeraldRedis } from '@herald/redis';

export function openQueue<T>(name: string, connection: HeraldRedis, defaultJobOptions: DefaultJobOptions, log: Logger): Queue<T> {
  const queue = new Queue<T>(name, { connection, prefix: keys.queuePrefix, defaultJobOptions });
  queue.on('error', (err) => log.warn({ err, queue: name }, 'queue error'));
  return queue;
}

/** Stop the worker (running jobs finish) and close the queue, both at once; throws the first failure. */
export async function closeQueue(queue: Queue, worker: Worker | undefined): Promise<void> {
  const results = await Promise.allSettled([worker?.close(), queue.close()]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
