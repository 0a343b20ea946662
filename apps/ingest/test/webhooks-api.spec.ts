/**
 * POST / GET / DELETE /v1/webhooks against a real redis-server: the scope, the secret's form, the
 * status in GET (never the secret), the owner's bound, and every refusal (bad URL, private
 * address, bad kinds, another producer's id) answered with its code and writing nothing.
 */
import { Webhook } from 'standardwebhooks';
import { deadLetterWebhook, recordWebhookFailure, createRedis, closeRedis, type HeraldRedis } from '@herald/redis';
import { signToken } from '@herald/testing';
import { Scope } from '@herald/types';
import { bearer, expectNoWrites, expectRefusal, sharedIngest } from './harness';

const MAX = 3;
let operator: string;
let otherOperator: string;
let writer: HeraldRedis | undefined;
afterAll(async () => {
  if (writer) await closeRedis(writer);
});
// An allow-listed host:port may be http and loopback; anything else must be https and public.
const stack = sharedIngest({ WEBHOOK_MAX_PER_PRODUCER: String(MAX), WEBHOOK_ALLOWED_HOSTS: '127.0.0.1:9999,localhost:8443' });

beforeAll(async () => {
  operator = await signToken('operator-a', { scope: Scope.WEBHOOKS_WRITE });
  otherOperator = await signToken('operator-b', { scope: Scope.WEBHOOKS_WRITE });
  writer = createRedis(stack.config, 'commands', 'webhooks-test');
});

/** Every webhook key with its content: equal dumps mean a refusal changed nothing (its script ran and wrote nothing). */
async function webhookKeys(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of (await stack.redis.keys('{herald:webhooks}*')).sort()) {
    const type = await stack.redis.type(key);
    out[key] = type === 'hash' ? await stack.redis.hgetall(key) : type === 'set' ? (await stack.redis.smembers(key)).sort() : await stack.redis.lrange(key, 0, -1);
  }
  return out;
}

async function expectUnchanged(act: () => Promise<void>): Promise<void> {
  const before = await webhookKeys();
  await act();
  expect(await webhookKeys()).toEqual(before);
}

function create(body: unknown, token: string | null = operator) {
  return stack.ingest.app.inject({ method: 'POST', url: '/v1/webhooks', payload: body as object, headers: token === null ? {} : bearer(token) });
}
function list(token: string = operator) {
  return stack.ingest.app.inject({ method: 'GET', url: '/v1/webhooks', headers: bearer(token) });
}
function remove(id: string, token: string = operator) {
  return stack.ingest.app.inject({ method: 'DELETE', url: `/v1/webhooks/${id}`, headers: bearer(token) });
}

describe('auth', () => {
  it('401 without a token, 403 without webhooks:write, on every route', async () => {
    expectRefusal(await create({ url: 'http://127.0.0.1:9999/h', kinds: ['sent'] }, null), 401, 'UNAUTHORIZED');
    const producer = await signToken('producer', { scope: `${Scope.MESSAGES_WRITE} ${Scope.EXPOSURES_READ}` });
    await expectNoWrites(stack.redis, async () => {
      expectRefusal(await create({ url: 'http://127.0.0.1:9999/h', kinds: ['sent'] }, producer), 403, 'FORBIDDEN');
      expectRefusal(await list(producer), 403, 'FORBIDDEN');
      expectRefusal(await remove('x', producer), 403, 'FORBIDDEN');
    });
  });
});

describe('create, list, delete', () => {
  it('answers 201 with an id and a whsec_ secret that signs; GET lists it active without the secret; DELETE removes it', async () => {
    const res = await create({ url: 'http://127.0.0.1:9999/hook', kinds: ['opened', 'clicked'], category: 'news' });
    expect(res.statusCode).toBe(201);
    const { id, secret } = res.json() as { id: string; secret: string };
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64').length).toBeGreaterThanOrEqual(24);
    // The secret is one standardwebhooks accepts: what it signs, it verifies.
    const wh = new Webhook(secret);
    const at = new Date();
    const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': wh.sign('msg_1', at, '{}') };
    expect(wh.verify('{}', headers)).toEqual({});

    const body = (await list()).json() as { webhooks: Array<Record<string, unknown>> };
    expect(body.webhooks).toEqual([
      {
        id,
        url: 'http://127.0.0.1:9999/hook',
        kinds: ['opened', 'clicked'],
        category: 'news',
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        state: 'active',
        disabledAt: null,
        disabledReason: null,
        lastFailureAt: null,
        lastFailure: null,
        deadLetters: 0,
      },
    ]);
    expect(JSON.stringify(body)).not.toContain(secret.slice(6));
    // Another producer sees none of it and cannot delete it.
    expect((await list(otherOperator)).json()).toEqual({ webhooks: [] });
    await expectUnchanged(async () => {
      expectRefusal(await remove(id, otherOperator), 404, 'WEBHOOK_NOT_FOUND');
      expectRefusal(await remove('no-such-id'), 404, 'WEBHOOK_NOT_FOUND');
      expectRefusal(await remove('bad%20id'), 404, 'WEBHOOK_NOT_FOUND');
    });
    expect((await remove(id)).statusCode).toBe(204);
    expect((await list()).json()).toEqual({ webhooks: [] });
    expectRefusal(await remove(id), 404, 'WEBHOOK_NOT_FOUND');
    expect(await stack.redis.keys('{herald:webhooks}:ep:*')).toEqual([]);
  });

  it('shows a failure and a disabled state as the worker records them; a status write never brings back a deleted endpoint', async () => {
    const { id } = (await create({ url: 'http://127.0.0.1:9999/status', kinds: ['sent'] })).json() as { id: string };
    const at = Date.UTC(2026, 0, 2, 3, 4, 5);
    await recordWebhookFailure(writer!, id, at, 'answered 500');
    await deadLetterWebhook(writer!, id, '{"webhookId":"msg_x"}', 10, at + 1000, 'failing for 86400 s; last: answered 500');
    const [shown] = (await list()).json().webhooks;
    expect(shown).toMatchObject({
      id,
      state: 'disabled',
      disabledAt: new Date(at + 1000).toISOString(),
      disabledReason: 'failing for 86400 s; last: answered 500',
      lastFailureAt: new Date(at).toISOString(),
      lastFailure: 'answered 500',
      deadLetters: 1,
    });
    expect((await remove(id)).statusCode).toBe(204);
    await recordWebhookFailure(writer!, id, at, 'late');
    expect(await deadLetterWebhook(writer!, id, '{}', 10, at, 'late')).toBe(false);
    expect(await stack.redis.keys('{herald:webhooks}:*:' + id)).toEqual([]);
  });

  it(`refuses a producer's endpoint past WEBHOOK_MAX_PER_PRODUCER (${MAX}) with 409 WEBHOOK_LIMIT_REACHED; others are not affected`, async () => {
    const ids: string[] = [];
    for (let i = 0; i < MAX; i++) {
      const res = await create({ url: `http://127.0.0.1:9999/n${i}`, kinds: ['delivered'] });
      expect(res.statusCode).toBe(201);
      ids.push(res.json().id);
    }
    await expectUnchanged(async () => {
      expectRefusal(await create({ url: 'http://127.0.0.1:9999/over', kinds: ['delivered'] }), 409, 'WEBHOOK_LIMIT_REACHED');
    });
    const other = await create({ url: 'http://127.0.0.1:9999/b', kinds: ['delivered'] }, otherOperator);
    expect(other.statusCode).toBe(201);
    expect((await list()).json().webhooks.map((w: { id: string }) => w.id).sort()).toEqual([...ids].sort());
    for (const id of ids) expect((await remove(id)).statusCode).toBe(204);
    expect((await remove(other.json().id, otherOperator)).statusCode).toBe(204);
  });
});

describe('refusals', () => {
  it('refuses bad URLs, private and loopback targets, bad kinds and categories with their codes, writing nothing', async () => {
    const ok = { kinds: ['sent'] };
    const cases: Array<[unknown, string]> = [
      [{ ...ok, url: 'not a url' }, 'INVALID_WEBHOOK_URL'],
      [{ ...ok, url: 'ftp://example.com/x' }, 'INVALID_WEBHOOK_URL'],
      [{ ...ok, url: 'http://127.0.0.1:9998/not-listed-port' }, 'INVALID_WEBHOOK_URL'],
      [{ ...ok, url: 'http://93.184.216.34/plain-http' }, 'INVALID_WEBHOOK_URL'],
      [{ ...ok, url: 'https://user:pw@93.184.216.34/creds' }, 'INVALID_WEBHOOK_URL'],
      [{ ...ok, url: `https://x.invalid/${'a'.repeat(2100)}` }, 'INVALID_WEBHOOK_URL'],
      [{ ...ok, url: 'https://no-such-host.invalid/h' }, 'INVALID_WEBHOOK_URL'],
      [{ ...ok, url: 'https://127.0.0.1/h' }, 'WEBHOOK_ADDRESS_FORBIDDEN'],
      [{ ...ok, url: 'https://10.1.2.3/h' }, 'WEBHOOK_ADDRESS_FORBIDDEN'],
      [{ ...ok, url: 'https://172.16.0.1/h' }, 'WEBHOOK_ADDRESS_FORBIDDEN'],
      [{ ...ok, url: 'https://192.168.1.1/h' }, 'WEBHOOK_ADDRESS_FORBIDDEN'],
      [{ ...ok, url: 'https://169.254.169.254/latest/meta-data' }, 'WEBHOOK_ADDRESS_FORBIDDEN'],
      [{ ...ok, url: 'https://100.64.0.1/h' }, 'WEBHOOK_ADDRESS_FORBIDDEN'],
      [{ ...ok, url: 'https://0.0.0.0/h' }, 'WEBHOOK_ADDRESS_FORBIDDEN'],
      [{ ...ok, url: 'https://224.0.0.1/h' }, 'WEBHOOK_ADDRESS_FORBIDDEN'],
      [{ ...ok, url: 'https://[::1]/h' }, 'WEBHOOK_ADDRESS_FORBIDDEN'],
      [{ ...ok, url: 'https://[fd00::1]/h' }, 'WEBHOOK_ADDRESS_FORBIDDEN'],
      [{ ...ok, url: 'https://[fe80::1]/h' }, 'WEBHOOK_ADDRESS_FORBIDDEN'],
      [{ ...ok, url: 'https://[::ffff:127.0.0.1]/h' }, 'WEBHOOK_ADDRESS_FORBIDDEN'],
      [{ ...ok, url: 'https://[::ffff:a9fe:a9fe]/h' }, 'WEBHOOK_ADDRESS_FORBIDDEN'],
      // A name that resolves to loopback (the hosts file), on a port not allow-listed.
      [{ ...ok, url: 'https://localhost/h' }, 'WEBHOOK_ADDRESS_FORBIDDEN'],
      [{ url: 'http://127.0.0.1:9999/h', kinds: [] }, 'INVALID_WEBHOOK_KINDS'],
      [{ url: 'http://127.0.0.1:9999/h', kinds: ['opened', 'opened'] }, 'INVALID_WEBHOOK_KINDS'],
      [{ url: 'http://127.0.0.1:9999/h', kinds: ['read'] }, 'INVALID_WEBHOOK_KINDS'],
      [{ url: 'http://127.0.0.1:9999/h', kinds: 'sent' }, 'INVALID_WEBHOOK_KINDS'],
      [{ url: 'http://127.0.0.1:9999/h', kinds: ['sent'], category: 'bad category' }, 'INVALID_CATEGORY'],
      [{ url: 'http://127.0.0.1:9999/h' }, 'INVALID_BODY'],
      [{ url: 'http://127.0.0.1:9999/h', kinds: ['sent'], secret: 'mine' }, 'INVALID_BODY'],
    ];
    await expectNoWrites(stack.redis, async () => {
      for (const [body, code] of cases) {
        const res = await create(body);
        expect({ body, status: res.statusCode, code: res.json().error?.code }).toEqual({ body, status: 400, code });
      }
    });
    expect((await create({ ...ok, url: 'https://169.254.169.254/x' })).json().error.message).toContain('169.254.169.254 is not a public address');
    // The allow-list is host:port exact: localhost:8443 may be http and loopback.
    const listed = await create({ ...ok, url: 'http://localhost:8443/dev' });
    expect(listed.statusCode).toBe(201);
    expect((await remove(listed.json().id)).statusCode).toBe(204);
  });
});

describe('OpenAPI', () => {
  it('/docs/json describes the webhook routes with bearer auth, the kinds and the refusals', async () => {
    const doc = (await stack.ingest.app.inject({ method: 'GET', url: '/docs/json' })).json();
    const post = doc.paths['/v1/webhooks'].post;
    expect(post.security).toEqual([{ bearer: [] }]);
    const body = post.requestBody.content['application/json'].schema;
    expect(Object.keys(body.properties).sort()).toEqual(['category', 'kinds', 'url']);
    expect(body.properties.kinds.items.enum).toEqual(['delivered', 'opened', 'clicked', 'dismissed', 'expired', 'dropped', 'sent', 'scheduled', 'updated', 'recalled']);
    expect(Object.keys(post.responses)).toEqual(expect.arrayContaining(['201', '400', '401', '403', '409']));
    const listed = doc.paths['/v1/webhooks'].get.responses['200'].content['application/json'].schema.properties.webhooks.items;
    expect(listed.properties).not.toHaveProperty('secret');
    expect(listed.properties.state.enum).toEqual(['active', 'disabled']);
    expect(Object.keys(doc.paths['/v1/webhooks/{id}'].delete.responses)).toEqual(expect.arrayContaining(['204', '404']));
  });
});
