/**
 * Message bodies for the drain: the in-process LRU cache first, then the misses of a batch from
 * Redis in one round trip. Cache entries live no longer than the message itself.
 */
import { LRUCache } from 'lru-cache';
import { decodeMessage, loadMessages, type EncodedMessage, type HeraldRedis } from '@herald/redis';
import type { Counter } from 'prom-client';

export class BodyStore {
  private readonly cache: LRUCache<string, EncodedMessage>;

  constructor(
    private readonly redis: HeraldRedis,
    max: number,
    private readonly lookups: Counter<'result'>,
  ) {
    this.cache = new LRUCache({ max });
  }

  /** Remember a body seen on a live notification, so the next drain finds it here. */
  remember(message: EncodedMessage, now = Date.now()): void {
    const ttl = message.expiresAt - now;
    if (ttl > 0) this.cache.set(message.id, message, { ttl });
  }

  /** Drop a cached body (the message was recalled). */
  forget(id: string): void {
    this.cache.delete(id);
  }

  /** Drop every cached body: changes may have been missed (the subscriber was lost). */
  clear(): void {
    this.cache.clear();
  }

  /** The cached body of a message that has not expired, if any. */
  peek(id: string, now = Date.now()): EncodedMessage | undefined {
    const hit = this.cache.get(id);
    if (!hit || hit.expiresAt <= now) return undefined;
    this.lookups.inc({ result: 'hit' });
    return hit;
  }

  /** Bodies in the order of `ids`; null where the message expired or is unknown. */
  async getMany(ids: string[], now = Date.now()): Promise<(EncodedMessage | null)[]> {
    const out: (EncodedMessage | null)[] = new Array(ids.length).fill(null);
    const missing: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const hit = this.cache.get(ids[i]);
      if (hit && hit.expiresAt > now) out[i] = hit;
      else missing.push(i);
    }
    this.lookups.inc({ result: 'hit' }, ids.length - missing.length);
    if (missing.length === 0) return out;
    this.lookups.inc({ result: 'miss' }, missing.length);
    const raw = await loadMessages(this.redis, missing.map((i) => ids[i]));
    for (let j = 0; j < missing.length; j++) {
      const value = raw[j];
      const message = value ? decodeMessage(value) : null;
      if (message && message.expiresAt > now) {
        out[missing[j]] = message;
        this.remember(message, now);
      }
    }
    return out;
  }
}

