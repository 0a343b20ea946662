/**
 * A category fan-out survives the death of the ingest process running it: a second ingest takes
 * the job over when its lock runs out, resumes from the recorded progress, and every member ends
 * with the message in the inbox exactly once.
 */
import Redis from 'ioredis';
import { freePort, startApp, startTestStack, waitFor, type AppProcess, type Stack } from '@herald/testing';
import { keys } from '@herald/redis';
import { StackClient } from './support/stack-client';

const MEMBERS = 100_000;

let stack: Stack;
let redis: Redis;
let second: AppProcess | undefined;

beforeAll(async () => {
  ({ stack } = await startTestStack(
    { FANOUT_LOCK_MS: '1000', FANOUT_CHUNK_SIZE: '500', EXPOSURE_TOPIC: 'exposures-fanout-crash' },
    { withoutConsumer: true },
  ));
  redis = new Redis(stack.env.REDIS_URL!);
}, 120_000);

afterAll(async () => {
  redis?.disconnect();
  await second?.stop();
  await stack?.stop();
}, 60_000);

it('resumes a fan-out whose ingest was SIGKILLed part-way, writing every inbox once', async () => {
  // Setup only: 100k members straight into Redis (the API would take 100k requests).
  const members = Array.from({ length: MEMBERS }, (_, i) => `crash-${i}`);
  for (let i = 0; i < members.length; i += 10_000) {
    await redis.sadd(keys.categoryMembers('crash'), ...members.slice(i, i + 10_000));
  }
  const client = await StackClient.create(stack);
  const id = await client.sendToCategory('crash', { survive: true });

  // Kill the ingest as soon as the job has written some members, long before it is done.
  const partial = await waitFor(
    async () => {
      const res = await fetch(`${stack.apps.ingest.url}/v1/messages/${id}/fanout`, {
        headers: { authorization: `Bearer ${client.producer}` },
      });
      const body = (await res.json()) as { progress?: { delivered: number } };
      return (body.progress?.delivered ?? 0) > 0 && body.progress!.delivered;
    },
    { intervalMs: 5, what: 'the job to start writing' },
  );
  stack.apps.ingest.child.kill('SIGKILL');
  await waitFor(() => stack.apps.ingest.child.exitCode !== null || stack.apps.ingest.child.signalCode !== null, {
    what: 'the first ingest to die',
  });
  expect(partial).toBeLessThan(MEMBERS);

  second = await startApp({ name: 'ingest', port: await freePort(), env: stack.env, onLine: () => undefined });
  stack.apps.ingest = second;
  await waitFor(async () => (await client.fanoutState(id)) === 'completed', {
    timeoutMs: 30_000,
    what: 'the second ingest to finish the job',
  });

  let once = 0;
  for (let i = 0; i < members.length; i += 5_000) {
    const pipeline = redis.pipeline();
    for (const userId of members.slice(i, i + 5_000)) pipeline.lrange(keys.inbox(userId), 0, -1);
    for (const [, inbox] of (await pipeline.exec()) ?? []) if ((inbox as string[]).join() === id) once++;
  }
  expect(once).toBe(MEMBERS);
}, 90_000);
