/**
 * The client's pure decisions, checked directly: backoff bounds, close-code actions, the bounded
 * id memory, ack framing within the gateway's limits, token expiry reading, option checks.
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { signToken } from '@herald/testing';
import {
  ackFrames,
  backoffDelay,
  closeAction,
  CloseCode,
  DeliveredIds,
  HeraldClient,
  HeraldClientError,
  MAX_IDS_PER_ACK,
  refreshAt,
  refusalAction,
  tokenExpiresAt,
} from '../src';

describe('backoffDelay (exponential, full jitter)', () => {
  const opts = { initialDelayMs: 500, maxDelayMs: 30_000 };

  it('draws from [0, min(max, initial * 2^attempt))', () => {
    expect(backoffDelay(0, opts, () => 0)).toBe(0);
    expect(backoffDelay(0, opts, () => 0.999999)).toBe(499);
    expect(backoffDelay(3, opts, () => 0.999999)).toBe(3999);
    expect(backoffDelay(3, opts, () => 0.5)).toBe(2000);
    // Capped at the maximum however many attempts, and finite far past where 2^n overflows.
    expect(backoffDelay(7, opts, () => 0.999999)).toBe(29_999);
    expect(backoffDelay(5000, opts, () => 0.999999)).toBe(29_999);
  });

  it('spreads delays over the whole window', () => {
    const delays = Array.from({ length: 2000 }, () => backoffDelay(4, opts));
    expect(Math.min(...delays)).toBeLessThan(800);
    expect(Math.max(...delays)).toBeGreaterThan(7200);
    expect(delays.every((d) => d >= 0 && d < 8000)).toBe(true);
  });
});

describe('close policy', () => {
  it('reconnects after restart, overload, slow consumer, network loss and unknown codes', () => {
    expect(closeAction(CloseCode.SERVER_RESTART, false)).toBe('restart');
    for (const code of [CloseCode.OVERLOADED, CloseCode.SLOW_CONSUMER, 1006, 1000, 1001, 1011, 4999]) {
      expect(closeAction(code, false)).toBe('reconnect');
    }
  });

  it('stops on 1009 and 4008 whatever the token source', () => {
    for (const canRefresh of [true, false]) {
      expect(closeAction(CloseCode.FRAME_TOO_BIG, canRefresh)).toBe('stop');
      expect(closeAction(CloseCode.POLICY, canRefresh)).toBe('stop');
    }
  });

  it('refreshes the token on 4001 and on a 401 refusal when it can, and stops when it cannot', () => {
    expect(closeAction(CloseCode.TOKEN_EXPIRED, true)).toBe('refresh');
    expect(closeAction(CloseCode.TOKEN_EXPIRED, false)).toBe('stop');
    expect(refusalAction(401, true)).toBe('refresh');
    expect(refusalAction(401, false)).toBe('stop');
    expect(refusalAction(403, true)).toBe('stop');
    expect(refusalAction(404, true)).toBe('stop');
    expect(refusalAction(503, false)).toBe('reconnect');
  });
});

describe('DeliveredIds', () => {
  it('forgets the oldest id past its capacity and keeps the ack state of the rest', () => {
    const ids = new DeliveredIds(3);
    ids.add('a');
    ids.add('b', true);
    ids.add('c');
    ids.markAcked('c');
    ids.add('d');
    expect(ids.size).toBe(3);
    expect(ids.has('a')).toBe(false);
    expect([ids.acked('b'), ids.acked('c'), ids.acked('d')]).toEqual([true, true, false]);
    ids.markAcked('a');
    expect(ids.has('a')).toBe(false);
  });

  it('stays within its bound under many ids', () => {
    const ids = new DeliveredIds(1000);
    for (let i = 0; i < 50_000; i++) ids.add(`id-${i}`);
    expect(ids.size).toBe(1000);
    expect(ids.has('id-48999')).toBe(false);
    expect(ids.has('id-49000')).toBe(true);
  });
});

describe('ackFrames', () => {
  it('splits acks into frames within both the byte limit and 1000 ids, keeping every id once, in order', () => {
    const ids = Array.from({ length: 2500 }, () => randomUUID());
    for (const limit of [64, 1024, 16 * 1024, 1024 * 1024]) {
      const frames = ackFrames(ids, limit);
      for (const frame of frames) {
        expect(Buffer.byteLength(frame)).toBeLessThanOrEqual(limit);
        const parsed = JSON.parse(frame) as { type: string; ids: string[] };
        expect(parsed.type).toBe('ack');
        expect(parsed.ids.length).toBeGreaterThan(0);
        expect(parsed.ids.length).toBeLessThanOrEqual(MAX_IDS_PER_ACK);
      }
      expect(frames.flatMap((f) => (JSON.parse(f) as { ids: string[] }).ids)).toEqual(ids);
    }
    expect(ackFrames(ids, 1024 * 1024)).toHaveLength(3);
  });

  it('leaves out an id that can never fit, and sends nothing for nothing', () => {
    expect(ackFrames([], 1024)).toEqual([]);
    expect(ackFrames(['x'.repeat(100), 'ok'], 64)).toEqual(['{"type":"ack","ids":["ok"]}']);
  });
});

describe('tokens', () => {
  it('reads exp from a JWT, and nothing from what is not one', async () => {
    const exp = Math.floor(Date.now() / 1000) + 120;
    expect(tokenExpiresAt(await signToken('ünïcödé-user', { expiresIn: exp }))).toBe(exp * 1000);
    expect(tokenExpiresAt('opaque-token')).toBeUndefined();
    expect(tokenExpiresAt('a.%%%.c')).toBeUndefined();
  });

  it('refreshes a margin before exp, but never past halfway through what is left', () => {
    expect(refreshAt(100_000, 0, 30_000)).toBe(70_000);
    expect(refreshAt(10_000, 0, 30_000)).toBe(5_000);
    expect(refreshAt(1000, 2000, 30_000)).toBe(2000);
  });
});

describe('options', () => {
  const base = { url: 'ws://127.0.0.1:1/ws', token: 't', WebSocket };

  it('names the option that is wrong', () => {
    const bad: [object, string][] = [
      [{ url: 'http://x/ws' }, '"url"'],
      [{ token: '' }, '"token"'],
      [{ ack: 'sometimes' }, '"ack"'],
      [{ heartbeatIntervalMs: -1 }, '"heartbeatIntervalMs"'],
      [{ reconnect: { initialDelayMs: 1000, maxDelayMs: 10 } }, '"reconnect.maxDelayMs"'],
      [{ maxFrameBytes: 10 }, '"maxFrameBytes"'],
      [{ refreshBeforeExpiryMs: 1.5 }, '"refreshBeforeExpiryMs"'],
    ];
    for (const [override, name] of bad) {
      let caught: unknown;
      try {
        new HeraldClient({ ...base, ...override } as never);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(HeraldClientError);
      expect((caught as HeraldClientError).code).toBe('INVALID_OPTION');
      expect((caught as Error).message).toContain(name);
    }
  });

  it('uses the global WebSocket where there is one, and asks for one where there is none (Node 20)', () => {
    const scope = globalThis as { WebSocket?: unknown };
    const saved = scope.WebSocket;
    try {
      delete scope.WebSocket;
      let caught: unknown;
      try {
        new HeraldClient({ url: base.url, token: 't' });
      } catch (err) {
        caught = err;
      }
      expect((caught as HeraldClientError).code).toBe('NO_WEBSOCKET');
      expect((caught as Error).message).toContain('{ WebSocket, … }');
      scope.WebSocket = WebSocket;
      expect(new HeraldClient({ url: base.url, token: 't' }).options.WebSocket).toBe(WebSocket);
    } finally {
      if (saved === undefined) delete scope.WebSocket;
      else scope.WebSocket = saved;
    }
  });
});
