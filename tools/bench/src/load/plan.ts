/**
 * How N connections are spread: evenly over the gateways, over loopback source addresses
 * (127.0.0.2, 127.0.0.3, …) so that no address holds more than a gateway allows from one client
 * address (WS_MAX_CONNECTIONS_PER_IP), and over load-client processes so that none comes near the
 * 20,000 open files a process may hold here.
 */

/** Connections one source address makes to one gateway; the gateway's default limit is 1000. */
export const PER_ADDRESS_PER_GATEWAY = 500;
/** Sockets one load-client process holds at most (each is an open file; the hard limit is 20,000). */
export const MAX_SOCKETS_PER_CLIENT = 15_000;
/** Without a choice, a client process per this many connections (and at least two). */
const SOCKETS_PER_CLIENT_DEFAULT = 10_000;
const MIN_CLIENTS_DEFAULT = 2;

export interface ConnectionPlan {
  /** Source addresses used, in order. */
  addresses: string[];
  /** Per connection i: [gateway index, address index]. */
  connections: Array<[number, number]>;
  /** Connections per gateway. */
  perGateway: number[];
}

/** Connection i goes to gateway i mod G and, within that gateway, round-robin over the addresses. */
export function planConnections(connections: number, gateways: number, perAddress = PER_ADDRESS_PER_GATEWAY): ConnectionPlan {
  if (gateways < 1) throw new Error('planConnections needs at least one gateway');
  const mostOnOneGateway = Math.ceil(connections / gateways);
  const addressCount = Math.max(1, Math.ceil(mostOnOneGateway / perAddress));
  const perGateway = Array.from({ length: gateways }, () => 0);
  const plan: Array<[number, number]> = [];
  for (let i = 0; i < connections; i++) {
    const gateway = i % gateways;
    plan.push([gateway, perGateway[gateway] % addressCount]);
    perGateway[gateway]++;
  }
  return { addresses: Array.from({ length: addressCount }, (_, k) => loopbackAddress(k)), connections: plan, perGateway };
}

/**
 * The k-th client address: 127.0.0.2 onwards (127.0.0.1 is the gateways'), never ending in .0 or
 * .255. All of 127.0.0.0/8 is loopback on Linux: no setup needed.
 */
export function loopbackAddress(k: number): string {
  const m = k + 1; // position among the usable addresses 127.0.0.1, 127.0.0.2, …, 127.0.0.254, 127.0.1.1, …
  const low = (m % 254) + 1;
  const block = Math.floor(m / 254);
  if (block > 0xffff) throw new Error(`no loopback address number ${k}`);
  return `127.${block >> 8}.${block & 0xff}.${low}`;
}

/** Load-client processes for `connections`: `requested` when set (0 = choose), never too few. */
export function clientsFor(connections: number, requested = 0): number {
  const needed = Math.ceil(connections / MAX_SOCKETS_PER_CLIENT);
  if (requested > 0) return Math.max(requested, needed);
  return Math.max(MIN_CLIENTS_DEFAULT, Math.ceil(connections / SOCKETS_PER_CLIENT_DEFAULT));
}
