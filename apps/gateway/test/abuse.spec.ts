/**
 * The gateway under abuse, with its limits set small: bad frames, frame floods, oversized frames,
 * too many connections per user or per address, an accept-rate burst, a foreign Origin, and a
 * client that never reads. Each abuser is stopped with the Contract's code; everyone else goes on.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { TestClient, waitFor } from '@herald/testing';
import { sharedHarness } from './harness';

describe('per-connection limits', () => {
  const h = sharedHarness({
    WS_MAX_FRAME_ERRORS: '3',
    WS_MAX_FRAMES_PER_SECOND: '20',
    WS_MAX_CONNECTIONS_PER_USER: '3',
    WS_MAX_CONNECTIONS_PER_IP: '4',
    WS_MAX_PAYLOAD_BYTES: '1024',
    SEND_BUFFER_MAX_BYTES: '65536',
  });

  let n = 0;
  const user = (what: string) => `${what}-${++n}-${Date.now()}`;
  const connect = async (u: string, opts = {}) => {
    const client = await TestClient.connect(h.wsUrl, await h.token(u), opts);
    return client;
  };

  it('answers bad frames with error frames, then closes a client that keeps sending them with 4008', async () => {
    const abuser = await connect(user('bad'));
    await abuser.waitForFrame('welcome');
    const bystander = await connect(user('ok'));
    await bystander.waitForFrame('welcome');
    for (let i = 0; i < 5; i++) abuser.send('not json');
    expect(await abuser.waitForClose()).toBe(4008);
    expect(abuser.frames.filter((f) => f.type === 'error')).toHaveLength(3);
    const u = (bystander.frames[0] as { userId: string }).userId;
    const id = await h.send([u], 'still served');
    expect((await bystander.waitForMessages(1))[0].id).toBe(id);
    await bystander.close();
  });

  it('closes a client that floods frames (acks) past the per-second budget with 4008', async () => {
    const flooder = await connect(user('flood'));
    await flooder.waitForFrame('welcome');
    for (let i = 0; i < 100; i++) flooder.ack([`id-${i}`]);
    expect(await flooder.waitForClose()).toBe(4008);
    expect(await h.metric('herald_gateway_closes_total', 'code="4008"')).toBeGreaterThanOrEqual(2);
  });

  it('closes a frame over WS_MAX_PAYLOAD_BYTES with 1009', async () => {
    const big = await connect(user('big'));
    await big.waitForFrame('welcome');
    big.send(JSON.stringify({ type: 'ack', ids: [randomBytes(1024).toString('hex')] }));
    expect(await big.waitForClose()).toBe(1009);
  });

  it('closes a connection past WS_MAX_CONNECTIONS_PER_USER with 4008, keeping the others', async () => {
    const u = user('many');
    const first = await Promise.all([connect(u), connect(u), connect(u)]);
    await Promise.all(first.map((c) => c.waitForFrame('welcome')));
    const extra = await connect(u);
    expect(await extra.waitForClose()).toBe(4008);
    expect(extra.frames).toHaveLength(0);
    const id = await h.send([u], 'to the three');
    for (const c of first) expect((await c.waitForMessages(1))[0].id).toBe(id);
    await Promise.all(first.map((c) => c.close()));
  });

  it('refuses an address past WS_MAX_CONNECTIONS_PER_IP with 503 before the upgrade; other addresses connect', async () => {
    const from2 = await Promise.all([1, 2, 3, 4].map(() => connect(user('ip'), { localAddress: '127.0.0.2' })));
    const refusal = await TestClient.refusal(h.wsUrl, await h.token(user('ip')), { localAddress: '127.0.0.2' });
    expect(refusal.status).toBe(503);
    expect(JSON.parse(refusal.body)).toMatchObject({ error: { code: 'OVERLOADED' } });
    expect(refusal.headers?.['retry-after']).toBe('1');
    const other = await connect(user('ip'), { localAddress: '127.0.0.3' });
    await other.waitForFrame('welcome');
    // Closing one frees its place.
    await from2[0].close();
    await waitFor(async () => {
      try {
        const again = await connect(user('ip'), { localAddress: '127.0.0.2' });
        from2[0] = again;
        return true;
      } catch {
        return false;
      }
    }, { what: 'a freed place for 127.0.0.2' });
    await Promise.all([...from2, other].map((c) => c.close()));
  });

  it('cuts off a client that never reads (4009) and keeps its memory bounded', async () => {
    const u = user('slow');
    const token = await h.token(u);
    const port = Number(new URL(h.httpUrl).port);
    // A raw client: it completes the handshake, then never reads another byte.
    const socket: Socket = tcpConnect({ host: '127.0.0.1', port, localAddress: '127.0.0.4' });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(
      `GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
        `Authorization: Bearer ${token}\r\n\r\n`,
    );
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.pause();
    await waitFor(async () => (await h.metric('herald_gateway_connections')) >= 1, { what: 'the session' });
    const closesBefore = await h.metric('herald_gateway_closes_total', 'code="4009"');
    const payload = 'x'.repeat(4096);
    let sent = 0;
    // Pour messages in until the gateway gives up on it (the kernel buffers a few MB first).
    await waitFor(async () => {
      for (let i = 0; i < 50; i++, sent++) await h.send([u], { payload, i: sent });
      return (await h.metric('herald_gateway_closes_total', 'code="4009"')) > closesBefore;
    }, { timeoutMs: 30_000, intervalMs: 1, what: 'a 4009 for the client that never reads' });
    await waitFor(async () => (await h.metric('herald_gateway_connections')) === 0, { what: 'the session to be gone' });
    expect(sent).toBeLessThan(5_000);
    socket.destroy();
  }, 60_000);

  it('does not take frames it holds back for a write burst for slowness (no 4009 for a reader)', async () => {
    const u = user('burst');
    const reader = await connect(u);
    await reader.waitForFrame('welcome');
    // 8 × 12 KiB sent at once reach the gateway in one read: one exposure batch, whose frames to
    // this socket are held until its end (write-burst.ts), past SEND_BUFFER_MAX_BYTES (64 KiB).
    const payload = 'y'.repeat(12 * 1024);
    const ids = await Promise.all(Array.from({ length: 8 }, (_, i) => h.send([u], { payload, i })));
    expect((await reader.waitForMessages(8)).map((m) => m.id).sort()).toEqual([...ids].sort());
    expect(reader.closeCode).toBeUndefined();
    await reader.close();
  });
});

describe('door limits', () => {
  const h = sharedHarness({ WS_ACCEPT_RATE: '20', WS_ALLOWED_ORIGINS: 'https://app.example.com, https://admin.example.com/' });

  it('answers a burst past WS_ACCEPT_RATE with 503 at once, and accepts again in the next second', async () => {
    const token = await h.token(`burst-${Date.now()}`);
    const results = await Promise.all(
      Array.from({ length: 60 }, () =>
        TestClient.connect(h.wsUrl, token).then(
          (c) => ({ ok: true as const, c }),
          (err: { status?: number }) => ({ ok: false as const, status: err.status }),
        ),
      ),
    );
    const accepted = results.filter((r) => r.ok);
    const refused = results.filter((r) => !r.ok);
    // One window admits 20; a burst straddling a window boundary at most twice that.
    expect(accepted.length).toBeGreaterThan(0);
    expect(accepted.length).toBeLessThanOrEqual(40);
    expect(refused.every((r) => r.status === 503)).toBe(true);
    expect(await h.metric('herald_gateway_connects_refused_total', 'reason="overloaded"')).toBe(refused.length);
    await Promise.all(accepted.map((r) => (r.ok ? r.c.close() : undefined)));
    const later = await waitFor(async () => {
      try {
        return await TestClient.connect(h.wsUrl, token);
      } catch {
        return undefined;
      }
    }, { what: 'a connection in a later second' });
    await later.close();
  });

  it('refuses a browser Origin not on WS_ALLOWED_ORIGINS with 403; allowed ones and non-browsers connect', async () => {
    const token = await h.token(`origin-${Date.now()}`);
    const refusal = await TestClient.refusal(h.wsUrl, token, { origin: 'https://evil.example.net' });
    expect(refusal.status).toBe(403);
    expect(JSON.parse(refusal.body)).toMatchObject({ error: { code: 'ORIGIN_NOT_ALLOWED' } });
    for (const origin of ['https://app.example.com', 'https://admin.example.com', undefined]) {
      const client = await waitFor(async () => {
        try {
          return await TestClient.connect(h.wsUrl, token, { origin });
        } catch {
          return undefined; // the accept window of the burst above may still be full
        }
      }, { what: `a connection from origin ${origin ?? '(none)'}` });
      await client.waitForFrame('welcome');
      await client.close();
    }
  });
});
