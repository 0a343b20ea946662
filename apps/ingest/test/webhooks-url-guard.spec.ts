/**
 * The SSRF guard's address rules, and the connect-time check against a real HTTP server: a name
 * that resolves to a forbidden address is never connected to, whatever it resolved to before. The
 * resolver is the one thing replaced (a DNS server that changes its answer cannot be run here).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { forbiddenAddress, guardedLookup, resolveChecked } from '../src/webhooks/url-guard';

describe('forbiddenAddress', () => {
  it.each([
    '127.0.0.1', '127.255.0.9', '10.0.0.1', '172.16.5.4', '172.31.255.255', '192.168.0.1', '169.254.169.254', '100.64.0.1',
    '100.127.255.254', '0.0.0.0', '224.0.0.251', '255.255.255.255', '::', '::1', 'fc00::1', 'fd12:3456::1', 'fe80::1',
    'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '::ffff:a9fe:a9fe', '64:ff9b::10.0.0.1', '::127.0.0.1',
  ])('refuses %s', (ip) => {
    expect(forbiddenAddress(ip)).toBeDefined();
  });

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:2800:220:1::1', '::ffff:93.184.216.34', '64:ff9b::8.8.8.8'])(
    'accepts %s',
    (ip) => {
      expect(forbiddenAddress(ip)).toBeUndefined();
    },
  );
});

describe('resolveChecked', () => {
  it('checks every address a name resolves to, not only the first', async () => {
    const resolve = async () => [{ address: '93.184.216.34', family: 4 }, { address: '10.0.0.7', family: 4 }];
    await expect(resolveChecked('mixed.example', false, resolve)).rejects.toMatchObject({ code: 'WEBHOOK_ADDRESS_FORBIDDEN' });
    await expect(resolveChecked('mixed.example', true, resolve)).resolves.toHaveLength(2);
  });
});

describe('guardedLookup at connect time', () => {
  let server: http.Server;
  let port: number;
  let connections = 0;
  beforeAll(async () => {
    server = http.createServer((_req, res) => res.end('ok'));
    server.on('connection', () => (connections += 1));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  function get(lookup: ReturnType<typeof guardedLookup>): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: 'rebinding.example', port, path: '/', lookup, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(String(res.statusCode)));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('never connects to a forbidden address, even when the name resolved to a public one before (DNS rebinding)', async () => {
    let answers = 0;
    // First answer public (what a check at registration would have seen), then loopback.
    const rebinding = async () => [{ address: answers++ === 0 ? '93.184.216.34' : '127.0.0.1', family: 4 }];
    await resolveChecked('rebinding.example', false, rebinding);
    await expect(get(guardedLookup(false, rebinding))).rejects.toMatchObject({ code: 'WEBHOOK_ADDRESS_FORBIDDEN' });
    expect(connections).toBe(0);
    // The same request to an allow-listed host:port connects to the address it checked.
    expect(await get(guardedLookup(true, async () => [{ address: '127.0.0.1', family: 4 }]))).toBe('200');
    expect(connections).toBe(1);
  });
});
