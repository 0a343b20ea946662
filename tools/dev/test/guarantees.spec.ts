/**
 * The delivery semantics of the Contract, proven against real processes: three gateway
 * processes and ingest, no sticky sessions, on one redis-server and on a 3-master Redis Cluster.
 * Clients connect to any gateway; nothing here reaches into Redis.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestStack, waitFor, type Stack, type TestClient } from '@herald/testing';
import { StackClient } from './support/stack-client';

const INBOX_CAP = 300;
const GATEWAYS = 3;

describe.each([
  ['one redis-server', 'single'],
  ['a 3-master Redis Cluster', 'cluster'],
] as const)('delivery guarantees, %s, 3 gateways', (_label, redis) => {
  let stack: Stack;
  let c: StackClient;
  let n = 0;
  const uid = (what: string) => `${what}-${redis}-${++n}`;

  beforeAll(async () => {
    ({ stack } = await startTestStack(
      { INBOX_CAP: String(INBOX_CAP), EXPOSURE_TOPIC: `exposures-guarantees-${redis}` },
      { gateways: GATEWAYS, redis, withoutConsumer: true },
    ));
    c = await StackClient.create(stack);
  }, 120_000);

  afterAll(async () => {
    const codes = await Promise.all([...stack.gateways, stack.apps.ingest].map((app) => app.stop()));
    await stack.stop();
    expect(codes).toEqual(codes.map(() => 0));
  }, 60_000);

  const closeAll = (clients: TestClient[]) => Promise.all(clients.map((client) => client.close()));
  const ids = (client: TestClient) => client.messages().map((m) => m.id);

  it('delivers live to every session of a user, one on each gateway', async () => {
    const u = uid('live');
    const clients = await Promise.all([0, 1, 2].map((g) => c.connect(u, g)));
    const id = await c.send([u], { n: 1 });
    for (const client of clients) expect((await client.waitForMessages(1)).map((m) => m.id)).toEqual([id]);
    await closeAll(clients);
  });

  it('redelivers unacked messages on any gateway, never acked ones; one device acks for all', async () => {
    const u = uid('ack');
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) sent.push(await c.send([u], { i }));

    const a = await c.connect(u, 0);
    expect((await a.waitForMessages(5)).map((m) => m.id)).toEqual(sent);
    const acks = await c.acksApplied();
    a.ack(sent.slice(0, 2));
    await waitFor(async () => (await c.acksApplied()) >= acks + 2, { what: 'two acks applied' });
    await a.close();

    // Two devices at once, on two other gateways: both get the unacked ones, then live.
    const b = await c.connect(u, 1);
    const d = await c.connect(u, 2);
    expect((await b.waitForMessages(3)).map((m) => m.id)).toEqual(sent.slice(2));
    expect((await d.waitForMessages(3)).map((m) => m.id)).toEqual(sent.slice(2));
    const live = await c.send([u], 'live');
    await b.waitForMessages(4);
    await d.waitForMessages(4);
    const acks2 = await c.acksApplied();
    b.ack([sent[2], live]); // device b acks; device d never does
    await waitFor(async () => (await c.acksApplied()) >= acks2 + 2, { what: 'b acks applied' });
    await closeAll([b, d]);

    const e = await c.connect(u, 0);
    await e.waitForMessages(2);
    const marker = await c.send([u], 'marker');
    await e.waitForMessages(3);
    expect(ids(e)).toEqual([sent[3], sent[4], marker]);
    await e.close();
  });

  it('delivers exactly once, in ingest order, to sessions that connect while messages pour in', async () => {
    const users = Array.from({ length: 6 }, () => uid('race'));
    const CONNECTS = 15;
    const sent = new Map<string, string[]>(users.map((u) => [u, []]));
    const sessions: Array<{ user: string; ids: string[] }> = [];
    let connecting = users.length;

    // One producer per user sends in sequence (that is ingest order) while its user reconnects.
    const produce = async (u: string) => {
      const list = sent.get(u)!;
      while ((connecting > 0 || list.length < 60) && list.length < INBOX_CAP) list.push(await c.send([u], { i: list.length }));
    };
    const reconnect = async (u: string) => {
      for (let k = 0; k < CONNECTS; k++) {
        const already = sent.get(u)!.length;
        const client = await c.connect(u, k % GATEWAYS);
        // Stay until the drain is surely over: everything sent before the connect has arrived.
        await client.waitForMessages(already);
        await client.close();
        sessions.push({ user: u, ids: ids(client) });
      }
      connecting--;
    };
    await Promise.all(users.flatMap((u) => [produce(u), reconnect(u)]));

    expect(sessions).toHaveLength(users.length * CONNECTS);
    for (const s of sessions) {
      // Every session saw a prefix of what was sent: no gap, no duplicate, no reordering.
      expect(s.ids).toEqual(sent.get(s.user)!.slice(0, s.ids.length));
    }
    // Sessions overlapped the pour: most saw messages arrive after their drain started.
    const growing = sessions.filter((s) => s.ids.length > 0 && s.ids.length < sent.get(s.user)!.length);
    expect(growing.length).toBeGreaterThan(sessions.length / 2);
    for (const [i, u] of users.entries()) {
      const last = await c.connect(u, i % GATEWAYS);
      await last.waitForMessages(sent.get(u)!.length);
      expect(ids(last)).toEqual(sent.get(u));
      await last.close();
    }
  }, 60_000);

  it('keeps at most INBOX_CAP ids, dropping the oldest and counting them', async () => {
    const u = uid('cap');
    const dropped = await c.counter(stack.apps.ingest, 'herald_inbox_dropped_total');
    const sent: string[] = [];
    for (let i = 0; i < INBOX_CAP + 5; i++) sent.push(await c.send([u], i));
    expect((await c.counter(stack.apps.ingest, 'herald_inbox_dropped_total')) - dropped).toBe(5);
    const client = await c.connect(u, 1);
    await client.waitForMessages(INBOX_CAP);
    const marker = await c.send([u], 'marker'); // the list is full: this drops one more
    await client.waitForMessages(INBOX_CAP + 1);
    expect(ids(client)).toEqual([...sent.slice(5), marker]);
    expect((await c.counter(stack.apps.ingest, 'herald_inbox_dropped_total')) - dropped).toBe(6);
    await client.close();
  }, 30_000);

  it('never delivers an expired message, offline or from a cache', async () => {
    const u = uid('ttl');
    // A session on gateway 0 receives it live, so that gateway caches the body.
    const watcher = await c.connect(u, 0);
    const sentAt = Date.now();
    const short = await c.send([u], 'short', { ttlSeconds: 1 });
    await watcher.waitForMessages(1);
    await watcher.close();
    const long = await c.send([u], 'long');
    // The clock is the condition here: the short message's 1 s TTL has run out (with 0.5 s margin;
    // Redis expires a key on the first read after its TTL, and the gateway checks the deadline).
    await sleep(Math.max(0, sentAt + 1500 - Date.now()));

    for (const g of [0, 1]) {
      const client = await c.connect(u, g);
      await client.waitForMessages(1);
      const marker = await c.send([u], `marker-${g}`);
      await client.waitForMessages(2);
      expect(ids(client)).toEqual([long, marker]);
      expect(ids(client)).not.toContain(short);
      client.ack([marker]);
      await client.close();
    }
  });

  it('delivers a category message live to every online member session and on connect to offline ones', async () => {
    const cat = `cat-${redis}-${Date.now()}`;
    const [on1, on2, off, outsider] = [uid('on'), uid('on'), uid('off'), uid('out')];
    await c.setCategories(on1, [cat]);
    await c.setCategories(on2, [cat, 'other']);
    await c.setCategories(off, [cat]);
    await c.setCategories(outsider, ['other']);
    const online = [await c.connect(on1, 0), await c.connect(on1, 1), await c.connect(on2, 2)];
    const out = await c.connect(outsider, 0);
    expect((await online[2].waitForFrame('welcome')).categories).toEqual([cat, 'other'].sort());

    const id = await c.sendToCategory(cat, { hello: 'all' });
    for (const client of online) {
      expect(await client.waitForMessages(1)).toEqual([expect.objectContaining({ id, category: cat, payload: { hello: 'all' } })]);
    }
    const later = await c.connect(off, 1);
    expect((await later.waitForMessages(1)).map((m) => m.id)).toEqual([id]);
    const marker = await c.send([outsider], 'marker');
    await out.waitForMessages(1);
    expect(ids(out)).toEqual([marker]);
    await closeAll([...online, out, later]);
  });

  it('category messages: merged with direct ones by send time, one per key, expired ones skipped, acked from any device', async () => {
    const cat = `pos-cat-${redis}-${Date.now()}`;
    const u = uid('catpos');
    await c.setCategories(u, [cat]);
    const sent: string[] = [];
    for (let i = 0; i < 6; i++) {
      // Send times are milliseconds: two sends in one tie (the direct message first).
      const now = Date.now();
      await waitFor(() => Date.now() > now, { what: 'the next millisecond' });
      sent.push(i % 2 === 0 ? await c.sendToCategory(cat, { i }) : await c.send([u], { i }));
    }
    const keyed = await Promise.all([0, 1].map(() => c.post({ category: cat, payload: 'keyed' }, { idempotencyKey: `cat-key-${u}` })));
    expect(keyed[1].body.id).toBe(keyed[0].body.id);
    sent.push(keyed[0].body.id!);
    const short = await c.post({ category: cat, payload: 'short' }, { ttlSeconds: 1 });
    expect(short.status).toBe(202);
    const shortExpires = Date.now() + 1000;
    const last = await c.sendToCategory(cat, 'last');
    sent.push(last);
    await waitFor(() => Date.now() > shortExpires, { what: 'the short message to expire' });

    const a = await c.connect(u, 0);
    await a.waitForMessages(sent.length);
    expect(ids(a)).toEqual(sent);
    // Another device, on another gateway, acks them all: a third connection gets none again.
    const b = await c.connect(u, 1);
    await b.waitForMessages(sent.length);
    const acks = await c.acksApplied();
    b.ack(sent);
    await waitFor(async () => (await c.acksApplied()) >= acks + 3, { what: 'the direct acks applied' });
    await closeAll([a, b]);
    // The positions are written in the acks' window: a connection that still got category
    // messages would get them before the marker.
    const d = await c.connect(u, 2);
    const marker = await c.send([u], 'marker');
    await d.waitForMessages(1);
    expect(ids(d)).toEqual([marker]);
    await d.close();
  });

  it('pushes each category message once per session, in log order, to sessions that connect while they pour in', async () => {
    const cat = `race-cat-${redis}-${Date.now()}`;
    const u = uid('catrace');
    await c.setCategories(u, [cat]);
    const sent: string[] = [];
    let connecting = true;
    const produce = (async () => {
      while (connecting || sent.length < 40) sent.push(await c.sendToCategory(cat, { i: sent.length }));
    })();
    const sessions: string[][] = [];
    for (let k = 0; k < 9; k++) {
      const already = sent.length;
      const client = await c.connect(u, k % GATEWAYS);
      await client.waitForMessages(already);
      await client.close();
      sessions.push(ids(client));
    }
    connecting = false;
    await produce;
    for (const got of sessions) {
      expect(new Set(got).size).toBe(got.length);
      expect(got).toEqual(sent.slice(0, got.length));
    }
  });

  it('applies membership changes to connected sessions without a reconnect', async () => {
    const cat = `live-cat-${redis}-${Date.now()}`;
    const [u, watcher] = [uid('member'), uid('watcher')];
    // A member that stays, on the same gateway: once it has a category message, that gateway has
    // handled the message's note for every session it holds.
    await c.setCategories(watcher, [cat]);
    const watching = await c.connect(watcher, 2);
    const session = await c.connect(u, 2);
    expect((await session.waitForFrame('welcome')).categories).toEqual([]);
    await c.setCategories(u, [cat]);
    const first = await c.sendToCategory(cat, 1);
    await session.waitForMessages(1);
    const other = await c.connect(u, 0);
    expect((await other.waitForFrame('welcome')).categories).toEqual([cat]);
    await other.close();

    await c.setCategories(u, []);
    const second = await c.sendToCategory(cat, 2);
    await watching.waitForMessages(2);
    expect(ids(watching)).toEqual([first, second]);
    // Had the session got `second`, its frame would come before the marker's.
    const marker = await c.send([u], 'marker');
    await session.waitForMessages(2);
    expect(ids(session)).toEqual([first, marker]);
    await closeAll([session, watching]);
  });

  it('accepts concurrent duplicates with one Idempotency-Key as one message', async () => {
    const u = uid('idem');
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => c.post({ userIds: [u], payload: 'once' }, { idempotencyKey: `key-${u}` })),
    );
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 202));
    const unique = [...new Set(answers.map((a) => a.body.id))];
    expect(unique).toHaveLength(1);
    const client = await c.connect(u, 1);
    await client.waitForMessages(1);
    const marker = await c.send([u], 'marker');
    await client.waitForMessages(2);
    expect(ids(client)).toEqual([unique[0], marker]);
    await client.close();
  });
});
