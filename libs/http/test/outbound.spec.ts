/** The outbound guard (outbound.ts): which addresses and URLs a user-chosen endpoint may use. */
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkEndpointUrl, EndpointRefused, isPublicAddress, parseAllowedHosts, pinnedLookup, resolveEndpoint } from '../src/outbound';

const NONE = parseAllowedHosts('');

it('refuses loopback, private, link-local, CGNAT, multicast, reserved and their IPv6 and IPv4-mapped forms', () => {
  const refused = [
    '127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0',
    '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fc00::1', 'fd12:3456::1', 'ff02::1',
    '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '64:ff9b::a9fe:a9fe', 'not-an-ip',
  ];
  const allowed = ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'];
  expect(refused.filter(isPublicAddress)).toEqual([]);
  expect(allowed.filter((a) => !isPublicAddress(a))).toEqual([]);
});

it('checks URLs: https only, no credentials, no private literal or localhost; an allow-listed host:port may be anything, also http', () => {
  const allowed = parseAllowedHosts(' 127.0.0.1:9000 ,Push.Local:8443');
  const reason = (url: string, list = NONE) => {
    const r = checkEndpointUrl(url, list);
    return r.ok ? 'ok' : r.reason;
  };
  expect(reason('https://push.example.com/send/abc')).toBe('ok');
  expect(reason('http://push.example.com/x')).toBe('the URL must be https');
  expect(reason('https://user:pw@push.example.com/')).toMatch(/credentials/);
  expect(reason('https://127.0.0.1/x')).toMatch(/loopback/);
  expect(reason('https://[::1]:8443/x')).toMatch(/loopback/);
  expect(reason('https://localhost/x')).toMatch(/localhost/);
  expect(reason('ftp://push.example.com/')).toBe('the URL must be https');
  expect(reason('nope')).toBe('not a URL');
  expect(reason(`https://e.com/${'a'.repeat(3000)}`)).toMatch(/longer/);
  expect(reason('http://127.0.0.1:9000/hook', allowed)).toBe('ok');
  expect(reason('https://push.local:8443/x', allowed)).toBe('ok');
  expect(reason('http://127.0.0.1:9001/hook', allowed)).toBe('the URL must be https');
  expect(() => parseAllowedHosts('127.0.0.1')).toThrow(RangeError);
});

describe('at request time', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer((_req, res) => res.end('reached'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('refuses a name that resolves to a private address unless its host:port is allow-listed', async () => {
    await expect(resolveEndpoint(new URL(`http://localhost:${port}/`), NONE)).rejects.toThrow(EndpointRefused);
    const allowed = parseAllowedHosts(`localhost:${port}`);
    const resolved = await resolveEndpoint(new URL(`http://localhost:${port}/`), allowed);
    expect(isPublicAddress(resolved.address)).toBe(false);
  });

  it('connects to the address checked, whatever the name would resolve to now', async () => {
    // A name no resolver knows: the request reaches the server only through the pinned address.
    const body = await new Promise<string>((resolve, reject) => {
      const req = get({ host: 'rebinding.invalid', port, path: '/', lookup: pinnedLookup({ address: '127.0.0.1', family: 4 }) }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
    });
    expect(body).toBe('reached');
  });
});
