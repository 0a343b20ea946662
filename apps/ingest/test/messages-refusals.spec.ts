/** POST /v1/messages against a real redis-server: every refusal answers its Contract error and writes nothing. */
import { signToken } from '@herald/testing';
import { bearer, expectNoWrites, expectRefusal, sharedIngest } from './harness';
import { MAX_BODY_BYTES, MESSAGES_ENV } from './support/message-limits';

const stack = sharedIngest(MESSAGES_ENV);

async function send(body: unknown, token = stack.tokens.messages) {
  return stack.ingest.app.inject({ method: 'POST', url: '/v1/messages', headers: bearer(token), payload: body as object });
}

/** A raw body text sent with this content type, by the producer allowed to send. */
async function sendText(contentType: string, text: string) {
  return stack.ingest.app.inject({
    method: 'POST',
    url: '/v1/messages',
    headers: { ...bearer(stack.tokens.messages), 'content-type': contentType },
    payload: text,
  });
}

describe('refusals write nothing', () => {
  const tooLong = 'u'.repeat(129);
  const cases: Array<[string, unknown, string]> = [
    ['payload missing', { userIds: ['a'] }, 'INVALID_BODY'],
    ['both userIds and category', { userIds: ['a'], category: 'news', payload: 1 }, 'INVALID_BODY'],
    ['neither userIds nor category', { payload: 1 }, 'INVALID_BODY'],
    ['a user id with a space', { userIds: ['bad id'], payload: 1 }, 'INVALID_USER_ID'],
    ['one bad user id among good ones', { userIds: ['ok-1', 'ok-2', 'no/slash'], payload: 1 }, 'INVALID_USER_ID'],
    ['a user id of 129 characters', { userIds: [tooLong], payload: 1 }, 'INVALID_USER_ID'],
    ['an empty user id', { userIds: [''], payload: 1 }, 'INVALID_USER_ID'],
    ['a user id that is not a string', { userIds: [{ id: 'a' }], payload: 1 }, 'INVALID_USER_ID'],
    ['no user ids', { userIds: [], payload: 1 }, 'INVALID_BODY'],
    ['repeated user ids', { userIds: ['a', 'a'], payload: 1 }, 'INVALID_BODY'],
    ['more than MAX_RECIPIENTS', { userIds: ['a', 'b', 'c', 'd'], payload: 1 }, 'INVALID_BODY'],
    ['a bad category', { category: 'has space', payload: 1 }, 'INVALID_CATEGORY'],
    ['a category with @', { category: 'a@b', payload: 1 }, 'INVALID_CATEGORY'],
    ['an empty category', { category: '', payload: 1 }, 'INVALID_CATEGORY'],
    ['ttlSeconds 0', { userIds: ['a'], payload: 1, ttlSeconds: 0 }, 'INVALID_BODY'],
    ['ttlSeconds over the maximum', { userIds: ['a'], payload: 1, ttlSeconds: 3601 }, 'INVALID_BODY'],
    ['ttlSeconds not whole', { userIds: ['a'], payload: 1, ttlSeconds: 1.5 }, 'INVALID_BODY'],
    ['a replace key with a space', { userIds: ['a'], payload: 1, replaceKey: 'has space' }, 'INVALID_REPLACE_KEY'],
    ['a replace key with |', { category: 'news', payload: 1, replaceKey: 'a|b' }, 'INVALID_REPLACE_KEY'],
    ['a replace key of 65 characters', { userIds: ['a'], payload: 1, replaceKey: 'k'.repeat(65) }, 'INVALID_REPLACE_KEY'],
    ['an empty replace key', { userIds: ['a'], payload: 1, replaceKey: '' }, 'INVALID_REPLACE_KEY'],
    ['a replace key that is not a string', { userIds: ['a'], payload: 1, replaceKey: 7 }, 'INVALID_REPLACE_KEY'],
    ['an unknown property', { userIds: ['a'], payload: 1, priority: 'high' }, 'INVALID_BODY'],
    ['a body that is an array', [{ userIds: ['a'], payload: 1 }], 'INVALID_BODY'],
  ];

  it.each(cases)('400 for %s', async (_name, body, code) => {
    await expectNoWrites(stack.redis, async () => {
      const res = await send(body);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ error: { code, message: expect.any(String) } });
    });
  });

  it('400 BAD_REQUEST for malformed JSON', async () => {
    await expectNoWrites(stack.redis, async () => {
      const res = await sendText('application/json', '{"userIds":["a"],');
      expectRefusal(res, 400, 'BAD_REQUEST');
    });
  });

  it('415 for a body that is not JSON, 400 for a text body', async () => {
    await expectNoWrites(stack.redis, async () => {
      const xml = await sendText('application/xml', '<message/>');
      expectRefusal(xml, 415, 'UNSUPPORTED_MEDIA_TYPE');
      // fastify parses text/plain itself; the string then fails the object schema.
      const text = await sendText('text/plain', '{"userIds":["a"],"payload":1}');
      expectRefusal(text, 400, 'INVALID_BODY');
    });
  });

  it('413 for a body over MAX_BODY_BYTES', async () => {
    await expectNoWrites(stack.redis, async () => {
      const res = await send({ userIds: ['big'], payload: 'x'.repeat(MAX_BODY_BYTES) });
      expectRefusal(res, 413, 'PAYLOAD_TOO_LARGE');
    });
  });

  it('401 without a token, with a bad one, with an expired one', async () => {
    const forged = await signToken('producer', { scope: 'messages:write', secret: 'another-secret-0123456789abcdef0123456789' });
    const expired = await signToken('producer', { scope: 'messages:write', expiresIn: Math.floor(Date.now() / 1000) - 3600 });
    const body = { userIds: ['victim'], payload: 1 };
    await expectNoWrites(stack.redis, async () => {
      const none = await stack.ingest.app.inject({ method: 'POST', url: '/v1/messages', payload: body });
      expectRefusal(none, 401, 'UNAUTHORIZED');
      for (const token of [forged, expired, 'not-a-jwt']) {
        const res = await send(body, token);
        expectRefusal(res, 401, 'UNAUTHORIZED');
      }
    });
  });

  it('401 before validation: an unauthenticated bad body is not examined', async () => {
    await expectNoWrites(stack.redis, async () => {
      const res = await stack.ingest.app.inject({ method: 'POST', url: '/v1/messages', payload: { nonsense: true } });
      expect(res.statusCode).toBe(401);
    });
  });

  it('403 for a user token (no scope) and for a token with another scope', async () => {
    await expectNoWrites(stack.redis, async () => {
      for (const token of [stack.tokens.user, stack.tokens.categories]) {
        const res = await send({ userIds: ['victim'], payload: 1 }, token);
        expectRefusal(res, 403, 'FORBIDDEN');
      }
    });
  });
});
