/**
 * The live subscriber's channel commands of one turn (src/channel-commands.ts), on a real
 * redis-server: many subscribes in one turn go as one command and one socket write, and each is
 * confirmed; an unsubscribe and a subscribe of one channel in a turn keep their order; channels
 * asked for while the connection is not ready wait for it; a failed command rejects each of its
 * channels.
 */
import { once } from 'node:events';
import type Redis from 'ioredis';
import { closeRedis, createRedis, type HeraldRedis } from '@herald/redis';
import { startRedisServer, waitFor, writesDuring, type RedisServer } from '@herald/testing';
import { ChannelCommands } from '../src/delivery/channel-commands';

let server: RedisServer;
let sub: HeraldRedis;
let pub: HeraldRedis;
/** Channels a message reached on `sub`. */
const heard: string[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  const config = { REDIS_URL: server.url, REDIS_CLUSTER_NODES: undefined };
  sub = createRedis(config, 'subscriber', 'channel-commands-test');
  pub = createRedis(config, 'commands', 'channel-commands-test');
  sub.on('smessage', (channel: string) => heard.push(channel));
  await once(sub, 'ready');
});
afterAll(async () => {
  await closeRedis(sub);
  await closeRedis(pub);
  await server.stop();
});

/** Socket writes of `sub` while `work` runs. */
const subWritesDuring = (work: () => Promise<unknown>) => writesDuring((sub as Redis).stream, work);

/** The tests' connections are ready before they ask. */
const ready = () => Promise.resolve();

const subscribers = async (channel: string) => ((await pub.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number])[1];

it('subscribes the channels asked for in one turn with one command, each confirmed', async () => {
  const commands = new ChannelCommands(sub, ready);
  const channels = Array.from({ length: 50 }, (_, i) => `{u:turn-${i}}:ch`);
  expect(await subWritesDuring(() => Promise.all(channels.map((c) => commands.subscribe(c))))).toBe(1);
  for (const channel of channels) expect(await subscribers(channel)).toBe(1);
  await Promise.all(channels.map((c) => pub.spublish(c, 'hello')));
  await waitFor(() => channels.every((c) => heard.includes(c)), { what: 'a message on every channel' });
  expect(await subWritesDuring(() => Promise.all(channels.map((c) => commands.unsubscribe(c))))).toBe(1);
  for (const channel of channels) expect(await subscribers(channel)).toBe(0);
});

it('keeps the order of an unsubscribe and a subscribe of one channel in a turn', async () => {
  const commands = new ChannelCommands(sub, ready);
  await commands.subscribe('{u:again}:ch');
  // The last session left and a new one came in the same turn: subscribed at the end.
  await Promise.all([commands.unsubscribe('{u:again}:ch'), commands.subscribe('{u:again}:ch'), commands.subscribe('{u:other}:ch')]);
  expect(await subscribers('{u:again}:ch')).toBe(1);
  // And the other way round: not subscribed at the end.
  await Promise.all([commands.subscribe('{u:gone}:ch'), commands.unsubscribe('{u:gone}:ch'), commands.unsubscribe('{u:other}:ch')]);
  expect(await subscribers('{u:gone}:ch')).toBe(0);
  expect(await subscribers('{u:other}:ch')).toBe(0);
  await commands.unsubscribe('{u:again}:ch');
});

it('rejects every channel of a command that failed', async () => {
  const config = { REDIS_URL: server.url, REDIS_CLUSTER_NODES: undefined };
  const closed = createRedis(config, 'subscriber', 'channel-commands-closed');
  await once(closed, 'ready');
  await closed.quit();
  const commands = new ChannelCommands(closed, ready);
  const results = await Promise.allSettled([commands.subscribe('{u:a}:ch'), commands.subscribe('{u:b}:ch')]);
  expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
});

it('waits for `ready` before sending what was asked while the connection was not ready', async () => {
  const config = { REDIS_URL: server.url, REDIS_CLUSTER_NODES: undefined };
  const early = createRedis(config, 'subscriber', 'channel-commands-early');
  try {
    expect(early.status).not.toBe('ready');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const commands = new ChannelCommands(early, () => gate);
    const done = commands.subscribe('{u:early}:ch');
    await once(early, 'ready');
    // A round trip on the connection: a subscribe sent before it would be in place by its answer.
    await early.ping();
    expect(await subscribers('{u:early}:ch')).toBe(0);
    release();
    await done;
    expect(await subscribers('{u:early}:ch')).toBe(1);
  } finally {
    await closeRedis(early);
  }
});
