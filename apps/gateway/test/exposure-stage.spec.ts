/** What the exposure stages share: a close runs every step even when one fails; the backoff. */
import { backoffMs, runEvery } from '../src/exposure/stage';

it('runs every cleanup step even when one throws or rejects, then rejects with the first error', async () => {
  const ran: string[] = [];
  const first = new Error('first');
  await expect(
    runEvery([
      () => {
        throw first;
      },
      () => ran.push('sync'),
      () => Promise.reject(new Error('second')),
      async () => ran.push('async'),
    ]),
  ).rejects.toBe(first);
  expect(ran).toEqual(['sync', 'async']);
  await expect(runEvery([() => ran.push('ok')])).resolves.toBeUndefined();
});

it('backs off from 100 ms, doubling, to at most 5 s', () => {
  expect([1, 2, 3, 6, 7, 50].map(backoffMs)).toEqual([100, 200, 400, 3_200, 5_000, 5_000]);
});
