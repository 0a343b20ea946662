/**
 * Replace keys on one redis-server and on a 3-master Redis Cluster: per recipient at most one
 * pending message per key (the older id leaves the inbox in the deliver that appends the new one,
 * the older entry leaves a category's log in the append), the notes name the id replaced
 * (`x<old>|…`, `k<entry>|x<old>|…`), and a message without a key changes nothing of that.
 */
import Redis, { Cluster } from 'ioredis';
import { startRedisCluster, startRedisServer, waitFor, type RedisCluster, type RedisServer } from '@herald/testing';
import {
  closeRedis,
  createRedis,
  decodeMessage,
  encodeMessage,
  keys,
  LOG_START,
  newMessage,
  parseNotification,
  publishToCategory,
  readCategoryLog,
  readInbox,
  removeFromInbox,
  sendToUsers,
  sentAtOf,
  withReplaces,
  type HeraldRedis,
} from '../src';

const DAY = 24 * 3600;
const INBOX = { cap: 10, inboxTtlSeconds: DAY };
const LOG = { cap: 10, lifetimeSeconds: DAY };
const msg = (payload: unknown, replaceKey?: string, category?: string) => newMessage({ payload, ttlMs: 60_000, replaceKey, category });

describe.each([
  ['one redis-server', 'single'],
  ['a 3-master Redis Cluster', 'cluster'],
] as const)('replace keys, %s', (_label, mode) => {
  let server: RedisServer | undefined;
  let cluster: RedisCluster | undefined;
  let redis: HeraldRedis;
  let sub: Redis | Cluster;
  /** Raw notes by channel, as received. */
  const notes = new Map<string, string[]>();
  const notesOf = (channel: string) => notes.get(channel) ?? [];

  beforeAll(async () => {
    let config: Parameters<typeof createRedis>[0];
    if (mode === 'cluster') {
      cluster = await startRedisCluster();
      const nodes = cluster.nodes.map((node) => ({ host: node.split(':')[0], port: Number(node.split(':')[1]) }));
      config = { REDIS_URL: undefined, REDIS_CLUSTER_NODES: nodes };
    } else {
      server = await startRedisServer();
      config = { REDIS_URL: server.url, REDIS_CLUSTER_NODES: undefined };
    }
    redis = createRedis(config, 'commands', 'replace-key-test');
    sub = createRedis(config, 'subscriber', 'replace-key-test');
    sub.on('smessage', (channel: string, note: string) => notes.set(channel, [...notesOf(channel), note]));
  }, 60_000);

  afterAll(async () => {
    await Promise.all([redis, sub].filter(Boolean).map(closeRedis));
    await server?.stop();
    await cluster?.stop();
  }, 30_000);

  it('keeps one pending message per key and user, and the note names the id it replaces', async () => {
    const [a, b] = [`a-${mode}`, `b-${mode}`];
    await sub.ssubscribe(keys.userChannel(a));
    const first = msg('2 comments', 'comments');
    const plain = msg('hello');
    const second = msg('3 comments', 'comments');

    expect(await sendToUsers(redis, first, [a, b], INBOX)).toEqual({ delivered: 2, skipped: 0, dropped: 0, replaced: 0, droppedIds: [] });
    expect(await sendToUsers(redis, plain, [a], INBOX)).toMatchObject({ delivered: 1, replaced: 0 });
    expect(await sendToUsers(redis, second, [a, b], INBOX)).toEqual({ delivered: 2, skipped: 0, dropped: 0, replaced: 2, droppedIds: [] });

    expect(await readInbox(redis, a)).toEqual([plain.id, second.id]);
    expect(await readInbox(redis, b)).toEqual([second.id]);
    await waitFor(() => notesOf(keys.userChannel(a)).length === 3, { what: "a's three notes" });
    const [n1, n2, n3] = notesOf(keys.userChannel(a));
    expect(n1.startsWith('m')).toBe(true);
    expect(n2.startsWith('m')).toBe(true);
    expect(n3.startsWith(`x${first.id}|m`)).toBe(true);
    expect(parseNotification(n3)).toMatchObject({ kind: 'message', replaces: first.id, message: { id: second.id } });
    expect(parseNotification(n1)).not.toHaveProperty('replaces');
    // The key lives as long as the inbox.
    expect(await redis.ttl(keys.userReplaceKeys(a))).toBeGreaterThan(DAY - 10);
  });

  it('names an acknowledged id too, and skips a retry before replacing anything', async () => {
    const c = `c-${mode}`;
    await sub.ssubscribe(keys.userChannel(c));
    const first = msg(1, 'k');
    await sendToUsers(redis, first, [c], INBOX);
    await removeFromInbox(redis, c, [first.id]); // acknowledged
    const second = msg(2, 'k');
    expect(await sendToUsers(redis, second, [c], INBOX)).toMatchObject({ delivered: 1, replaced: 0 });
    // A retry of `second` under its Idempotency-Key: skipped first, so it does not replace itself.
    const retry = { ...INBOX, unique: true, rememberSeconds: DAY };
    expect(await sendToUsers(redis, second, [c], retry)).toMatchObject({ delivered: 0, skipped: 1, replaced: 0 });
    expect(await readInbox(redis, c)).toEqual([second.id]);
    await waitFor(() => notesOf(keys.userChannel(c)).length === 2, { what: "c's two notes" });
    expect(parseNotification(notesOf(keys.userChannel(c))[1])).toMatchObject({ replaces: first.id });
  });

  it('changes nothing for a message without a key', async () => {
    const d = `d-${mode}`;
    const [one, two] = [msg(1), msg(2)];
    await sendToUsers(redis, one, [d], INBOX);
    expect(await sendToUsers(redis, two, [d], INBOX)).toEqual({ delivered: 1, skipped: 0, dropped: 0, replaced: 0, droppedIds: [] });
    expect(await readInbox(redis, d)).toEqual([one.id, two.id]);
    expect(await redis.exists(keys.userReplaceKeys(d))).toBe(0);
    const [raw] = [await redis.get(keys.message(two.id))];
    expect(JSON.parse(decodeMessage(raw!)!.frame.toString())).not.toHaveProperty('replaceKey');
  });

  it('remembers at most `cap` keys per user', async () => {
    const e = `e-${mode}`;
    for (let i = 0; i < 5; i++) await sendToUsers(redis, msg(i, `key${i}`), [e], { ...INBOX, cap: 3 });
    expect(await redis.hlen(keys.userReplaceKeys(e))).toBe(3);
    expect(await redis.hexists(keys.userReplaceKeys(e), 'key4')).toBe(1);
  });

  it("deletes a category's older entry with the key, and the note names it", async () => {
    const category = `news-${mode}`;
    await sub.ssubscribe(keys.categoryChannel(category));
    const first = msg('score 1-0', 'score', category);
    const other = msg('kick-off', undefined, category);
    const second = msg('score 2-0', 'score', category);
    const e1 = await publishToCategory(redis, first, category, LOG);
    const e2 = await publishToCategory(redis, other, category, LOG);
    const e3 = await publishToCategory(redis, second, category, LOG);
    expect([e1.replaced, e2.replaced, e3.replaced]).toEqual([0, 0, 1]);

    expect((await readCategoryLog(redis, category, LOG_START, 10)).map((e) => e.id)).toEqual([other.id, second.id]);
    expect(await redis.hget(keys.categoryReplaceKeys(category), 'score')).toBe(`${e3.entry}|${second.id}`);
    const channel = keys.categoryChannel(category);
    await waitFor(() => notesOf(channel).length === 3, { what: 'three category notes' });
    expect(notesOf(channel)[2].startsWith(`k${e3.entry}|x${first.id}|m`)).toBe(true);
    expect(parseNotification(notesOf(channel)[2])).toMatchObject({ kind: 'entry', entry: e3.entry, id: second.id, replaces: first.id });
    expect(parseNotification(notesOf(channel)[1])).not.toHaveProperty('replaces');
  });
});

describe('the frame of a message with a replace key', () => {
  it('carries replaceKey, keeps createdAt last, and takes "replaces" right after its type', () => {
    const message = newMessage({ payload: { createdAt: 'not this one' }, ttlMs: 1000, replaceKey: 'k:1' });
    const encoded = decodeMessage(encodeMessage(message))!;
    const text = encoded.frame.toString();
    expect(JSON.parse(text)).toEqual({ type: 'message', id: message.id, category: null, replaceKey: 'k:1', payload: { createdAt: 'not this one' }, createdAt: message.createdAt });
    expect(text.endsWith(`"createdAt":"${message.createdAt}"}`)).toBe(true);

    const replacing = withReplaces(encoded, 'old-id');
    expect(replacing.frame.toString().startsWith('{"type":"message","replaces":"old-id","id"')).toBe(true);
    expect(JSON.parse(replacing.frame.toString())).toEqual({ ...JSON.parse(text), replaces: 'old-id' });
    expect(sentAtOf(replacing)).toBe(Date.parse(message.createdAt));
    expect(encoded.frame.toString()).toBe(text); // the cached message keeps its frame
  });

  it('parses only message and reference notes behind an x prefix', () => {
    expect(parseNotification('xold|rnew')).toEqual({ kind: 'ref', id: 'new', replaces: 'old' });
    expect(parseNotification('k1-0|xold|rnew')).toEqual({ kind: 'entry', entry: '1-0', id: 'new', replaces: 'old' });
    expect(parseNotification('xold|c[]')).toBeNull();
    expect(parseNotification('xold|xolder|rnew')).toBeNull();
    expect(parseNotification('x|rnew')).toBeNull();
  });
});
