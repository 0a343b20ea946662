/**
 * Category messages stored once, in the category's log, and routed by the gateway's manager
 * (issue 16): live to the members connected here, from the log after the member's position on
 * connect, merged with the inbox by send time; positions moved by acks, set at join, gone at leave.
 * The gateway gives a category message to one session a turn (FANOUT_SESSIONS_PER_TURN=1), so
 * every fan-out here with two sessions or more spans turns.
 */
import { appendToCategory, keys, liveNote, encodeMessage, newMessage, publishToCategory, readCategoryLog, readTrimmed, LOG_START } from '@herald/redis';
import { TestClient, waitFor } from '@herald/testing';
import { sharedHarness } from './harness';

const h = sharedHarness({ FANOUT_SESSIONS_PER_TURN: '1' });

let n = 0;
const user = () => `cl-user-${++n}-${Date.now()}`;
const category = () => `cl-cat-${++n}`;

const connect = async (u: string) => {
  const client = await TestClient.connect(h.wsUrl, await h.token(u));
  await client.waitForFrame('welcome');
  return client;
};
const ids = (client: TestClient) => client.messages().map((m) => m.id);
const position = (u: string, c: string) => h.redis.hget(keys.categoryPositions(u), c);
/** Send times are milliseconds: two sends in one millisecond tie (the inbox first). */
const nextMillisecond = async () => {
  const now = Date.now();
  await waitFor(() => Date.now() > now, { what: 'the next millisecond' });
};

describe('category messages, stored once', () => {
  it('goes live to every session of every member here, once per gateway, with one exposure per session', async () => {
    const c = category();
    const [u1, u2, outsider] = [user(), user(), user()];
    await h.setCategories(u1, [c]);
    await h.setCategories(u2, [c, 'other']);
    const clients = [await connect(u1), await connect(u1), await connect(u2)];
    const other = await connect(outsider);
    const sent: string[] = [];
    for (let i = 0; i < 10; i++) sent.push(await h.publish(c, { i }));
    for (const client of clients) {
      await client.waitForMessages(10);
      expect(ids(client)).toEqual(sent);
    }
    expect(clients[0].messages()[0]).toMatchObject({ category: c, payload: { i: 0 } });
    // Nothing was written per member: the log holds each message once, no inbox holds any.
    expect(await h.redis.xlen(keys.categoryLog(c))).toBe(10);
    expect(await h.redis.exists(keys.inbox(u1), keys.inbox(u2))).toBe(0);
    await waitFor(() => h.exposures.filter((e) => e.messageId === sent[9]).length === 3, { what: 'three exposures' });
    // A marker to the outsider: had a category message reached it, it would come before.
    const marker = await h.send([outsider], { marker: true });
    await other.waitForMessages(1);
    expect(ids(other)).toEqual([marker]);
    await Promise.all([...clients, other].map((cl) => cl.close()));
  });

  it('gives a message to its sessions over many turns, and what comes next for a member waits behind it', async () => {
    const c = category();
    const members = Array.from({ length: 40 }, user);
    for (const member of members) await h.setCategories(member, [c]);
    const clients: TestClient[] = [];
    for (const member of members) clients.push(await connect(member));
    // Every session past its drain (live order is then the notes' order; a drain's is by send time).
    const opened = await h.send(members, { opened: true });
    for (const client of clients) await client.waitForMessages(1);
    // The category's sessions are visited in the order they joined: the last member's comes 40th.
    const last = clients[clients.length - 1];
    // The direct note reaches the gateway a round trip behind the category's, while the category
    // message's fan-out is under way (40 turns).
    const entry = await h.publish(c, { all: true });
    const direct = await h.send([members[members.length - 1]], { after: true });
    for (const client of clients) await client.waitForMessages(2);
    await last.waitForMessages(3);
    expect(ids(last)).toEqual([opened, entry, direct]);
    expect(clients.filter((client) => ids(client)[1] !== entry)).toEqual([]);
    await waitFor(() => h.exposures.filter((e) => e.messageId === entry).length === members.length, { what: 'an exposure per session' });
    await Promise.all(clients.map((client) => client.close()));
  });

  it('drains what a member missed, merged with its inbox by send time, and nothing sent before the join', async () => {
    const c = category();
    const u = user();
    await h.publish(c, { before: 'join' });
    // A message of the join's millisecond is the member's (libs/redis replace-categories).
    await nextMillisecond();
    await h.setCategories(u, [c]);
    const sent: string[] = [];
    for (let i = 0; i < 6; i++) {
      await nextMillisecond();
      sent.push(i % 2 === 0 ? await h.publish(c, { i }) : await h.send([u], { i }));
    }
    const client = await connect(u);
    await client.waitForMessages(6);
    expect(ids(client)).toEqual(sent);
    await client.close();
  });

  it('moves the position with acks, from any device, so the next connect gets only what is left', async () => {
    const c = category();
    const u = user();
    await h.setCategories(u, [c]);
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) sent.push(await h.publish(c, { i }));
    const entries = await readCategoryLog(h.redis, c, LOG_START, 10);
    const first = await connect(u);
    await first.waitForMessages(5);
    // The third acked before the second: the position stops before the second, so the third
    // comes again with it (a position is where everything before is done).
    first.ack([sent[0], sent[2]]);
    await waitFor(async () => (await position(u, c)) === entries[0].entry, { what: 'the position after the first entry' });
    await first.close();
    // Another device acks what is left.
    const second = await connect(u);
    await second.waitForMessages(4);
    expect(ids(second)).toEqual(sent.slice(1));
    second.ack(sent.slice(1));
    await waitFor(async () => (await position(u, c)) === entries[4].entry, { what: 'the position at the last entry' });
    await second.close();
    const third = await connect(u);
    const marker = await h.send([u], { marker: true });
    await third.waitForMessages(1);
    expect(ids(third)).toEqual([marker]);
    await third.close();
  });

  it('stops at a leave and starts at a join, live and on connect', async () => {
    const [a, b] = [category(), category()];
    const u = user();
    await h.setCategories(u, [a]);
    const client = await connect(u);
    const toA = await h.publish(a, { to: 'a' });
    await client.waitForMessages(1);
    await h.setCategories(u, [b]);
    await waitFor(() => h.gateway.hub.sessionsIn(b).size === 1, { what: 'the join applied' });
    expect(await position(u, a)).toBeNull();
    await h.publish(a, { to: 'a, left' });
    const toB = await h.publish(b, { to: 'b' });
    await client.waitForMessages(2);
    expect(ids(client)).toEqual([toA, toB]);
    await client.close();
    const again = await connect(u);
    // toA was never acked, but the user left a; toB is read from the log after the join.
    await again.waitForMessages(1);
    const marker = await h.send([u], { marker: true });
    await again.waitForMessages(2);
    expect(ids(again)).toEqual([toB, marker]);
    await again.close();
  });

  it('never pushes an entry twice in a session while messages arrive during many connects', async () => {
    const c = category();
    const u = user();
    await h.setCategories(u, [c]);
    const token = await h.token(u);
    const sent: string[] = [];
    const sending = (async () => {
      for (let i = 0; i < 60; i++) sent.push(await h.publish(c, { i }));
    })();
    const clients = await Promise.all(Array.from({ length: 8 }, () => TestClient.connect(h.wsUrl, token)));
    await sending;
    for (const client of clients) {
      await client.waitForMessages(60);
      expect(ids(client)).toEqual(sent);
    }
    await Promise.all(clients.map((cl) => cl.close()));
  });

  it('passes expired entries, and appends once under an idempotency key', async () => {
    const c = category();
    const u = user();
    await h.setCategories(u, [c]);
    await h.publish(c, { short: true }, { ttlMs: 1 });
    const message = newMessage({ payload: { once: true }, ttlMs: 60_000, category: c });
    await h.redis.set(keys.message(message.id), encodeMessage(message), 'PX', 60_000);
    const note = liveNote(encodeMessage(message), message.id, 1);
    const opts = { cap: 100, lifetimeSeconds: 3600, unique: true, rememberSeconds: 60 };
    expect((await appendToCategory(h.redis, c, message, note, opts)).entry).not.toBeNull();
    expect((await appendToCategory(h.redis, c, message, note, opts)).entry).toBeNull();
    const client = await connect(u);
    await client.waitForMessages(1);
    client.ack([message.id]);
    const entries = await readCategoryLog(h.redis, c, LOG_START, 10);
    expect(entries).toHaveLength(2);
    await waitFor(async () => (await position(u, c)) === entries[1].entry, { what: 'the position past the expired entry' });
    const marker = await h.send([u], { marker: true });
    await client.waitForMessages(2);
    expect(ids(client)).toEqual([message.id, marker]);
    await client.close();
  });

  it('reports what the log trimmed before the member read it: dropped at the cap, expired past its expiry; nothing before the join', async () => {
    const c = category();
    const [u, late] = [user(), user()];
    await h.setCategories(u, [c]);
    const opts = { cap: 3, lifetimeSeconds: 3600 };
    const short = newMessage({ payload: { short: true }, ttlMs: 1, category: c });
    await publishToCategory(h.redis, short, c, opts);
    const sent: string[] = [];
    for (let i = 0; i < 4; i++) {
      await nextMillisecond();
      const message = newMessage({ payload: { i }, ttlMs: 60_000, category: c });
      await publishToCategory(h.redis, message, c, opts);
      sent.push(message.id);
    }
    // The log keeps the last 3: the short one (expired by then) and sent[0] were trimmed.
    await nextMillisecond();
    await h.setCategories(late, [c]);
    const losses = (userId: string) =>
      h.received
        .filter((e) => (e.attributes.kind === 'dropped' || e.attributes.kind === 'expired') && e.data.userId === userId)
        .map((e) => `${e.attributes.kind} ${String(e.data.messageId)} ${String(e.data.category)}`);
    const client = await connect(u);
    await client.waitForMessages(3);
    expect(ids(client)).toEqual(sent.slice(1));
    await waitFor(() => losses(u).length >= 2, { what: "the member's losses published" }).catch(async (err: Error) => {
      // What the topic and the gateway saw, to tell a loss not recorded from one not published.
      const mine = h.received.filter((e) => e.data.userId === u).map((e) => `${String(e.attributes.kind)} ${String(e.data.messageId)}`);
      const counts = await Promise.all([
        h.metric('herald_gateway_user_events_total', 'kind="dropped"'),
        h.metric('herald_gateway_user_events_total', 'kind="expired"'),
        h.metric('herald_exposures_publish_errors_total'),
      ]);
      throw new Error(`${err.message}; the topic has for the member ${JSON.stringify(mine)}; recorded dropped / expired, publish errors: ${counts.join(' / ')}; the log's trims ${JSON.stringify(await readTrimmed(h.redis, c, LOG_START))}`);
    });
    expect(losses(u).sort()).toEqual([`dropped ${sent[0]} ${c}`, `expired ${short.id} ${c}`].sort());
    // A member who joined after the trims lost nothing (a marker: its losses would come before).
    const other = await connect(late);
    const marker = await h.send([late], { marker: true });
    await other.waitForMessages(1);
    expect(ids(other)).toEqual([marker]);
    await waitFor(() => h.exposures.some((e) => e.messageId === marker), { what: "the marker's exposure" });
    expect(losses(late)).toEqual([]);
    await Promise.all([client.close(), other.close()]);
  });
});

