/**
 * SSRF guard for webhook URLs (docs/SECURITY.md, Webhooks): a webhook is a request Herald makes to
 * an address a producer chose, from inside the deployment, so the address is checked at
 * registration and again at every send.
 *
 * - https only, no credentials in the URL; plain http only for a `host:port` of
 *   WEBHOOK_ALLOWED_HOSTS (development and tests).
 * - Every address the host resolves to must be public (`isPublicAddress` of @herald/http, the one
 *   list of ranges Herald refuses for user-chosen endpoints, Web Push's too): not loopback, private
 *   (RFC 1918, ULA), link-local, CGNAT, unspecified, multicast, reserved, nor an IPv4-mapped /
 *   -compatible / NAT64 IPv6 form of one of those. An allow-listed `host:port` may use any address.
 * - At a send the connection goes to the very address that was checked (`guardedLookup`, the
 *   `lookup` of http.request), so a DNS answer that changes between the check and the connect
 *   (DNS rebinding) cannot swap it.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { isPublicAddress } from '@herald/http';
import { HeraldError } from '@herald/types';

export interface AllowedHost {
  host: string;
  port: number;
}

/** Why `ip` may not be a webhook's address, or undefined when it is a public one (the ranges: @herald/http outbound.ts). */
export function forbiddenAddress(ip: string): string | undefined {
  if (!isIP(ip)) return `${ip} is not an IP address`;
  return isPublicAddress(ip) ? undefined : `${ip} is not a public address`;
}

/** The port a URL goes to. */
function portOf(url: URL): number {
  if (url.port) return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

/** A URL's host as resolvers and the allow-list see it (IPv6 without its brackets). */
export function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname.toLowerCase();
}

export interface CheckedUrl {
  url: URL;
  /** Its host:port is in WEBHOOK_ALLOWED_HOSTS: http and any address allowed. */
  allowListed: boolean;
}

/** The URL's form (no network): throws INVALID_WEBHOOK_URL, or WEBHOOK_ADDRESS_FORBIDDEN for a literal address. */
export function checkUrlForm(raw: string, allowed: readonly AllowedHost[]): CheckedUrl {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new HeraldError('INVALID_WEBHOOK_URL', `url: "${raw.slice(0, 100)}" is not an absolute URL`);
  }
  if (url.username || url.password) throw new HeraldError('INVALID_WEBHOOK_URL', 'url: credentials in the URL are not allowed');
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new HeraldError('INVALID_WEBHOOK_URL', `url: the scheme must be https, got ${url.protocol}`);
  }
  const host = hostOf(url);
  const port = portOf(url);
  const allowListed = allowed.some((a) => a.host.toLowerCase() === host && a.port === port);
  if (url.protocol === 'http:' && !allowListed) {
    throw new HeraldError('INVALID_WEBHOOK_URL', `url: plain http is allowed only for a host:port in WEBHOOK_ALLOWED_HOSTS; use https`);
  }
  if (!allowListed && isIP(host)) {
    const why = forbiddenAddress(host);
    if (why) throw new HeraldError('WEBHOOK_ADDRESS_FORBIDDEN', `url: ${why}`);
  }
  return { url, allowListed };
}

type Resolve = (host: string) => Promise<LookupAddress[]>;

const resolveAll: Resolve = (host) =>
  new Promise((resolve, reject) => dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));

/**
 * Every address of the host, each checked (all of them: a resolver may answer in any order).
 * Throws WEBHOOK_ADDRESS_FORBIDDEN, or INVALID_WEBHOOK_URL when the host does not resolve.
 */
export async function resolveChecked(host: string, allowListed: boolean, resolve: Resolve = resolveAll): Promise<LookupAddress[]> {
  if (isIP(host)) {
    const literal = [{ address: host, family: isIP(host) }];
    if (!allowListed && forbiddenAddress(host)) throw new HeraldError('WEBHOOK_ADDRESS_FORBIDDEN', `url: ${forbiddenAddress(host)}`);
    return literal;
  }
  let addresses: LookupAddress[];
  try {
    addresses = await resolve(host);
  } catch (err) {
    throw new HeraldError('INVALID_WEBHOOK_URL', `url: the host ${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (addresses.length === 0) throw new HeraldError('INVALID_WEBHOOK_URL', `url: the host ${host} has no address`);
  if (!allowListed) {
    for (const { address } of addresses) {
      const why = forbiddenAddress(address);
      if (why) throw new HeraldError('WEBHOOK_ADDRESS_FORBIDDEN', `url: ${host} resolves to ${address}; ${why}`);
    }
  }
  return addresses;
}

/** A URL as the API accepts it: its form, then its addresses. */
export async function checkWebhookUrl(raw: string, allowed: readonly AllowedHost[]): Promise<CheckedUrl> {
  const checked = checkUrlForm(raw, allowed);
  await resolveChecked(hostOf(checked.url), checked.allowListed);
  return checked;
}

/**
 * The `lookup` of a webhook request: resolves the host, checks every address, and hands the
 * socket only checked addresses, so it connects to what was checked. (A literal IP host skips
 * lookup in net.connect: checkUrlForm checks it before the request.)
 */
export function guardedLookup(allowListed: boolean, resolve: Resolve = resolveAll): LookupFunction {
  return (hostname, options, callback) => {
    resolveChecked(hostname, allowListed, resolve).then(
      (addresses) => {
        const wanted = options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
        if (wanted.length === 0) {
          callback(Object.assign(new Error(`no IPv${options.family} address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
        } else if (options.all) {
          (callback as unknown as (err: null, all: LookupAddress[]) => void)(null, wanted);
        } else {
          callback(null, wanted[0].address, wanted[0].family);
        }
      },
      (err: Error) => callback(err as NodeJS.ErrnoException, '', 0),
    );
  };
}
