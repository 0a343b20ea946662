import { TimeoutError, withTimeout } from '../src';

describe('withTimeout', () => {
  it('resolves with the promise when it settles first', async () => {
    await expect(withTimeout(Promise.resolve('done'), 1000, 'quick work')).resolves.toBe('done');
  });

  it('rejects with the promise’s own error when it fails first', async () => {
    await expect(withTimeout(Promise.reject(new Error('boom')), 1000, 'failing work')).rejects.toThrow('boom');
  });

  it('rejects with a TimeoutError naming the work when the time runs out first', async () => {
    const never = new Promise<never>(() => undefined);
    const err = await withTimeout(never, 20, 'the Redis PING').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ code: 'TIMEOUT', what: 'the Redis PING', timeoutMs: 20 });
    expect((err as Error).message).toBe('the Redis PING did not finish within 20 ms');
  });
});
