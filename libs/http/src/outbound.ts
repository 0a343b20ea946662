/**
 * Requests Herald makes to addresses its users chose (webhook endpoints, Web Push endpoints): the
 * guard against server-side request forgery. An endpoint must be `https:` on a public address;
 * loopback, private, link-local, shared (CGNAT), multicast, unspecified and reserved addresses are
 * refused, in IPv4, IPv6 and IPv4-mapped IPv6 forms, unless its `host:port` is on an allow-list
 * (tests and development), which alone may also use plain `http:`.
 *
 * The check is made twice: on the URL when it is stored, and on the addresses the host resolves to
 * when a request is made. The request then connects to the very address that was checked
 * (`pinnedLookup`), so a DNS answer that changes between the check and the connect (rebinding)
 * cannot point it elsewhere.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/** `host:port` pairs (lowercase) that may be anything, also plain http (e.g. `127.0.0.1:9000`). */
export type AllowedHosts = ReadonlySet<string>;

/** Parse a comma-separated `host:port` list (WEBHOOK_ALLOWED_HOSTS, WEBPUSH_ALLOWED_HOSTS). */
export function parseAllowedHosts(value: string | undefined): AllowedHosts {
  const hosts = new Set<string>();
  for (const part of (value ?? '').split(',')) {
    const entry = part.trim().toLowerCase();
    if (entry === '') continue;
    if (!/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+):\d{1,5}$/.test(entry)) throw new RangeError(`allowed host "${part.trim()}" is not host:port`);
    hosts.add(entry);
  }
  return hosts;
}

const BLOCKED = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // this network, unspecified
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // shared address space (CGNAT)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (cloud metadata services live here)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast (deprecated)
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['64:ff9b:1::', 48], // local-use IPv4/IPv6 translation
  ['100::', 64], // discard-only
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv6');
}

/**
 * The IPv4 address an IPv6 address carries (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
 * `::a.b.c.d`, NAT64 `64:ff9b::/96`), if any.
 */
function embeddedIpv4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^(?:::ffff:|::|64:ff9b::)(\d{1,3}(?:\.\d{1,3}){3})$/.exec(lower);
  if (dotted) return dotted[1];
  const hex = /^(?:::ffff:|::|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (!hex) return undefined;
  const hi = parseInt(hex[1], 16);
  const lo = parseInt(hex[2], 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** True for an address a request to a user-chosen endpoint may reach. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return !BLOCKED.check(address, 'ipv4');
  if (family !== 6) return false;
  const v4 = embeddedIpv4(address);
  if (v4 !== undefined) return isPublicAddress(v4);
  return !BLOCKED.check(address, 'ipv6');
}

/** `host:port` of a URL as the allow-list spells it (default ports filled in, IPv6 in brackets). */
export function hostPort(url: URL): string {
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return `${url.hostname.toLowerCase()}:${port}`;
}

export type EndpointCheck = { ok: true; url: URL } | { ok: false; reason: string };

/**
 * Checks an endpoint URL before it is stored: a URL of at most `maxLength` characters, https (http
 * only when allow-listed), no credentials, and, when the host is an IP literal, a public one (names
 * are checked when resolved, at each request: `resolveEndpoint`).
 */
export function checkEndpointUrl(raw: string, allowed: AllowedHosts, maxLength = 2048): EndpointCheck {
  if (raw.length > maxLength) return { ok: false, reason: `the URL is longer than ${maxLength} characters` };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'not a URL' };
  }
  if (url.username || url.password) return { ok: false, reason: 'the URL must not carry credentials' };
  const listed = allowed.has(hostPort(url));
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && listed)) {
    return { ok: false, reason: listed ? 'the URL must be http or https' : 'the URL must be https' };
  }
  const literal = url.hostname.replace(/^\[|\]$/g, '');
  if (!listed && isIP(literal) && !isPublicAddress(literal)) {
    return { ok: false, reason: 'the address is loopback, private, link-local or reserved' };
  }
  if (!listed && (literal === 'localhost' || literal.endsWith('.localhost'))) return { ok: false, reason: 'the host is localhost' };
  return { ok: true, url };
}

export interface ResolvedEndpoint {
  address: string;
  family: 4 | 6;
}

/** An endpoint whose host resolved to an address it may not reach (or did not resolve). */
export class EndpointRefused extends Error {
  readonly code = 'ENDPOINT_REFUSED';
  constructor(message: string) {
    super(message);
    this.name = 'EndpointRefused';
  }
}

/**
 * Resolves the URL's host and checks every address it has (one bad address refuses it all: the
 * resolver could pick any); returns the first, to connect to with `pinnedLookup`.
 */
export async function resolveEndpoint(url: URL, allowed: AllowedHosts): Promise<ResolvedEndpoint> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const listed = allowed.has(hostPort(url));
  const literal = isIP(host);
  const addresses = literal ? [{ address: host, family: literal }] : await lookup(host, { all: true, verbatim: true });
  if (addresses.length === 0) throw new EndpointRefused(`${host} has no address`);
  if (!listed) {
    const bad = addresses.find((a) => !isPublicAddress(a.address));
    if (bad) throw new EndpointRefused(`${host} resolves to ${bad.address}, which is not a public address`);
  }
  const first = addresses[0];
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}

/** A `lookup` for http(s).request that always answers the checked address (no second resolution). */
export function pinnedLookup(resolved: ResolvedEndpoint): LookupFunction {
  return ((_hostname: string, options: { all?: boolean } | undefined, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address: resolved.address, family: resolved.family }]);
    else callback(null, resolved.address, resolved.family);
  }) as LookupFunction;
}
