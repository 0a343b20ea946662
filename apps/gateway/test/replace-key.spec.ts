/**
 * Replace keys through a real gateway and WebSocket clients: a connected session gets the new
 * message with `"replaces"` (inline and reference notes, user lists and categories), an offline
 * user or member who connects later gets only the new one, and the replaced message, never
 * delivered, has no exposure.
 */
import { keys } from '@herald/redis';
import { TestClient, waitFor } from '@herald/testing';
import { sharedHarness } from './harness';

const h = sharedHarness();

let n = 0;
const user = () => `rk-user-${++n}-${Date.now()}`;
const category = () => `rk-cat-${++n}`;
const connect = async (u: string) => {
  const client = await TestClient.connect(h.wsUrl, await h.token(u));
  await client.waitForFrame('welcome');
  return client;
};
const exposuresOf = (id: string) => h.exposures.filter((e) => e.messageId === id);

describe('replace keys', () => {
  it('sends a connected session the new message with "replaces", and leaves only it in the offline list', async () => {
    const [u, other] = [user(), user()];
    const client = await connect(u);
    const first = await h.send([u, other], '2 comments', { replaceKey: 'post-1' });
    await client.waitForMessages(1);
    const second = await h.send([u, other], '3 comments', { replaceKey: 'post-1' });
    const [, frame] = await client.waitForMessages(2);
    expect(frame).toEqual({
      type: 'message',
      replaces: first,
      id: second,
      category: null,
      replaceKey: 'post-1',
      payload: '3 comments',
      createdAt: expect.any(String),
    });
    expect(client.messages()[0]).toMatchObject({ id: first, replaceKey: 'post-1' });
    expect(client.messages()[0]).not.toHaveProperty('replaces');
    expect(await h.redis.lrange(keys.inbox(u), 0, -1)).toEqual([second]);
    // The frame with "replaces" is the live one only: the body the drain reads has none.
    client.ack([first]);
    await client.close();

    // `other` was offline: it gets only the new message, without "replaces".
    const later = await connect(other);
    await later.waitForMessages(1);
    expect(later.messages()).toEqual([expect.objectContaining({ id: second, replaceKey: 'post-1' })]);
    expect(later.messages()[0]).not.toHaveProperty('replaces');
    await waitFor(() => exposuresOf(second).length === 2, { what: "the new message's two exposures" });
    // `first` was pushed to `u` only (live), never to `other`.
    expect(exposuresOf(first).map((e) => e.userId)).toEqual([u]);
    expect(exposuresOf(second).map((e) => [e.userId, e.via]).sort()).toEqual([[other, 'offline'], [u, 'live']].sort());
    await later.close();
  });

  it('replaces through a reference note too (a body too big to copy to every recipient)', async () => {
    const [u, other] = [user(), user()];
    const client = await connect(u);
    const big = 'x'.repeat(600_000); // two copies are over the inline budget: reference notes
    const first = await h.send([u, other], { big, n: 1 }, { replaceKey: 'big' });
    await client.waitForMessages(1);
    const second = await h.send([u, other], { big, n: 2 }, { replaceKey: 'big' });
    const [, frame] = await client.waitForMessages(2);
    expect(frame).toMatchObject({ replaces: first, id: second, replaceKey: 'big', payload: { n: 2 } });
    await client.close();
  });

  it('does the same for a category: live members get "replaces", an offline member only the new one', async () => {
    const c = category();
    const [online, offline] = [user(), user()];
    await h.setCategories(online, [c]);
    await h.setCategories(offline, [c]);
    const client = await connect(online);
    const first = await h.publish(c, '1-0', { replaceKey: 'score' });
    await client.waitForMessages(1);
    const second = await h.publish(c, '2-0', { replaceKey: 'score' });
    const [, frame] = await client.waitForMessages(2);
    expect(frame).toMatchObject({ replaces: first, id: second, category: c, replaceKey: 'score', payload: '2-0' });
    expect((await h.redis.xrange(keys.categoryLog(c), '-', '+')).map(([, f]) => f[1])).toEqual([second]);
    // The implicit ack of the replaced id (what the SDK sends) and the new one's move the position to the end.
    client.ack([first, second]);
    const [[last]] = (await h.redis.xrevrange(keys.categoryLog(c), '+', '-', 'COUNT', 1)) as [string, string[]][];
    await waitFor(async () => (await h.redis.hget(keys.categoryPositions(online), c)) === last, { what: "online's position at the end" });
    await client.close();

    const later = await connect(offline);
    await later.waitForMessages(1);
    expect(later.messages()).toEqual([expect.objectContaining({ id: second, replaceKey: 'score' })]);
    await waitFor(() => exposuresOf(second).length === 2, { what: "the new message's two exposures" });
    expect(exposuresOf(first).map((e) => e.userId)).toEqual([online]);
    await later.close();
  });

  it('drains only the newest message per key, and a plain message replaces nothing', async () => {
    const u = user();
    const plain = await h.send([u], 'plain');
    const first = await h.send([u], 'v1', { replaceKey: 'k' });
    const second = await h.send([u], 'v2', { replaceKey: 'k' });
    const client = await connect(u);
    await client.waitForMessages(2);
    expect(client.messages().map((m) => m.id)).toEqual([plain, second]);
    expect(client.messages().some((m) => 'replaces' in m)).toBe(false);
    expect(first).not.toBe(second);
    await client.close();
  });
});
