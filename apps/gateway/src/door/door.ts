/**
 * The gateway's door limits, applied to every upgrade request before its token is even read:
 * an accept rate per process (a fixed one-second window), open connections per client address,
 * and an Origin allow-list for browsers. Everything here is O(1) per request and allocation-free
 * for a refused one; the one-second window is reset by the gateway's shared sweep.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from '@herald/types';

export interface DoorLimits {
  acceptRate: number;
  maxPerAddress: number;
  /** Allowed `Origin` values; empty allows any. */
  allowedOrigins: ReadonlySet<string>;
}

export function parseOrigins(list: string | undefined): ReadonlySet<string> {
  return new Set((list ?? '').split(',').map((o) => o.trim().replace(/\/+$/, '')).filter(Boolean));
}

export class Door {
  private acceptedThisSecond = 0;
  private readonly perAddress = new Map<string, number>();

  constructor(private readonly limits: DoorLimits) {}

  /** Called once a second by the gateway's sweep. */
  tick(): void {
    this.acceptedThisSecond = 0;
  }

  /** Sockets currently counted for an address (upgrading or open). */
  openFrom(address: string): number {
    return this.perAddress.get(address) ?? 0;
  }

  /**
   * Admit an upgrade request, or say why not. An admitted socket counts against its address until
   * it closes (the count is released on the socket's `close`, refused or not).
   */
  admit(request: IncomingMessage, socket: Duplex): ErrorCode | null {
    const origin = request.headers.origin;
    if (origin !== undefined && this.limits.allowedOrigins.size > 0 && !this.limits.allowedOrigins.has(origin)) {
      return 'ORIGIN_NOT_ALLOWED';
    }
    if (this.acceptedThisSecond >= this.limits.acceptRate) return 'OVERLOADED';
    const address = request.socket.remoteAddress ?? 'unknown';
    const open = this.perAddress.get(address) ?? 0;
    if (open >= this.limits.maxPerAddress) return 'OVERLOADED';
    this.acceptedThisSecond++;
    this.perAddress.set(address, open + 1);
    socket.once('close', () => {
      const n = (this.perAddress.get(address) ?? 1) - 1;
      if (n <= 0) this.perAddress.delete(address);
      else this.perAddress.set(address, n);
    });
    return null;
  }
}
