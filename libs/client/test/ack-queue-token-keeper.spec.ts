/**
 * The client's two stateful helpers, checked directly: the ack queue (order, dedupe, the bound,
 * holding while no connection can take frames) and the token keeper (when the provider is asked).
 */
import { signToken } from '@herald/testing';
import { AckQueue } from '../src/ack-queue';
import { TokenKeeper } from '../src/token-keeper';
import { FrameSink } from './support/frame-sink';


describe('AckQueue', () => {
  const opts = { capacity: 3, intervalMs: 60_000, maxFrameBytes: 16_384 };

  it('sends each queued id once, in the order it was last queued', () => {
    const sink = new FrameSink();
    const sent: number[] = [];
    const queue = new AckQueue({ ...opts, onSent: (ids) => sent.push(ids) }, () => sink);
    for (const id of ['a', 'b', 'a']) queue.add(id);
    queue.flush();
    queue.cancel();
    expect(sink.ids()).toEqual(['b', 'a']);
    expect(sent).toEqual([2]);
    expect(queue.size).toBe(0);
  });

  it('holds ids while the connection cannot take frames, and forgets the oldest past its capacity', () => {
    const sink = new FrameSink(true, false);
    const queue = new AckQueue(opts, () => sink);
    for (const id of ['a', 'b', 'c', 'd']) queue.add(id);
    queue.flush();
    expect(sink.frames).toEqual([]);
    expect(queue.size).toBe(3);
    sink.writable = true;
    queue.flush();
    expect(sink.ids()).toEqual(['b', 'c', 'd']);
  });

  it('holds ids while there is no connection at all', () => {
    const queue = new AckQueue(opts, () => null);
    queue.add('a');
    queue.flush();
    expect(queue.size).toBe(1);
  });
});

describe('TokenKeeper', () => {
  it('uses a fixed string as it is and cannot renew it', async () => {
    const keeper = new TokenKeeper('fixed', 30_000);
    keeper.invalidate();
    expect(await keeper.current()).toBe('fixed');
    expect(keeper.renewable).toBe(false);
  });

  it('asks the provider once, again after invalidate(), and reads exp', async () => {
    const tokens = [await signToken('u1', { expiresIn: '1h' }), await signToken('u1', { expiresIn: '2h' })];
    let calls = 0;
    const keeper = new TokenKeeper(() => tokens[calls++], 30_000);
    expect(await keeper.current()).toBe(tokens[0]);
    expect(await keeper.current()).toBe(tokens[0]);
    expect(calls).toBe(1);
    const firstExpiry = keeper.expiresAt as number;
    expect(firstExpiry).toBeGreaterThan(Date.now());
    keeper.invalidate();
    expect(await keeper.current()).toBe(tokens[1]);
    expect(keeper.expiresAt).toBeGreaterThan(firstExpiry);
  });

  it('refuses an empty token from the provider', async () => {
    await expect(new TokenKeeper(() => '', 30_000).current()).rejects.toThrow(/no token/);
  });

  it('schedules a renewal only for a provider token with an exp', async () => {
    const keeper = new TokenKeeper(await signToken('u1', { expiresIn: '1s' }), 30_000);
    await keeper.current();
    let rotated = false;
    keeper.scheduleRenewal(() => (rotated = true));
    keeper.cancelRenewal();
    expect(rotated).toBe(false);
    const renewing = new TokenKeeper(async () => signToken('u1', { expiresIn: '2s' }), 30_000);
    await renewing.current();
    await new Promise<void>((resolve) => renewing.scheduleRenewal(resolve));
  });
});
