/**
 * The `herald` binary without a stack: help on every command, usage errors (exit 2), missing or
 * wrong configuration (exit 3), services that cannot be reached (exit 1), and tokens minted with
 * the dev secret only. Every case runs the real binary as a child process.
 */
import { execFile } from 'node:child_process';
import { createECDH, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { jwtVerify } from 'jose';
import { DEV_SECRET_PREFIX } from '@herald/config';
import { freePort, TEST_JWT_SECRET } from '@herald/testing';
import { herald, REPO_ROOT } from './support/cli-stack';

jest.setTimeout(60_000);

const COMMANDS = ['token', 'send', 'message', 'update', 'recall', 'tail', 'inbox', 'categories', 'presence', 'exposures', 'webhooks', 'vapid-keys'];
const DEV_SECRET = `${DEV_SECRET_PREFIX}${randomBytes(24).toString('hex')}`;
const NO_ENV = {};

describe('help', () => {
  it('lists every command, and each command has its own --help', async () => {
    const main = await herald(['--help'], { env: NO_ENV });
    expect(main.code).toBe(0);
    for (const name of COMMANDS) expect(main.stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
    expect(main.stdout).toContain('Exit codes: 0 done, 1');

    const runs = await Promise.all(COMMANDS.map((name) => herald([name, '--help'], { env: NO_ENV })));
    runs.forEach((run, i) => {
      const name = COMMANDS[i];
      expect({ name, code: run.code, stderr: run.stderr }).toEqual({ name, code: 0, stderr: '' });
      expect(run.stdout).toMatch(new RegExp(`^Usage: herald ${name}\\b`));
      expect(run.stdout).toContain('-h, --help');
    });
    // `herald help <command>` is the same text.
    expect(await herald(['help', 'inbox'], { env: NO_ENV })).toEqual({ ...runs[COMMANDS.indexOf('inbox')], code: 0 });
  });

  it('answers a bare `herald`, an unknown command and an unknown flag with exit code 2', async () => {
    const bare = await herald([], { env: NO_ENV });
    expect(bare.code).toBe(2);
    expect(bare.stdout).toContain('Usage: herald <command>');

    const unknown = await herald(['sned'], { env: NO_ENV });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(
      'herald: unknown command "sned"; the commands are token, send, message, update, recall, tail, inbox, categories, presence, exposures, webhooks, vapid-keys (herald --help)\n',
    );

    const flag = await herald(['send', '--usr', 'alice', '1'], { env: NO_ENV });
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("herald send: Unknown option '--usr'");
    expect(flag.stderr).toContain('see herald send --help');
  });

  it('runs as `npm run cli --` and as `npx herald` (the package.json bin)', async () => {
    const run = promisify(execFile);
    const viaNpm = await run('npm', ['run', '--silent', 'cli', '--', 'token', '--help'], { cwd: REPO_ROOT });
    expect(viaNpm.stdout).toMatch(/^Usage: herald token/);
    const viaNpx = await run('npx', ['--offline', 'herald', 'send', '--help'], { cwd: REPO_ROOT });
    expect(viaNpx.stdout).toMatch(/^Usage: herald send/);
  });

  it('starts without the libraries only some commands need (Redis, the HTTP server stack, Web Push)', async () => {
    // Every command starts by loading the command table; a command's heavy dependencies are
    // imported when it runs, so `herald send` does not pay for ioredis, Fastify or web-push.
    const run = promisify(execFile);
    const loaded = await run(
      process.execPath,
      ['--import', 'tsx', '-e', "require('./tools/cli/src/cli.ts'); console.log(JSON.stringify(Object.keys(require.cache)))"],
      { cwd: REPO_ROOT },
    );
    const packages = (JSON.parse(loaded.stdout) as string[]).filter((file) => file.includes('/node_modules/'));
    expect(packages.length).toBeGreaterThan(0);
    for (const heavy of ['/ioredis/', '/fastify/', '/prom-client/', '/web-push/', '/jose/']) {
      expect({ heavy, loaded: packages.filter((file) => file.includes(heavy)) }).toEqual({ heavy, loaded: [] });
    }
  });
});

describe('vapid-keys', () => {
  it('prints a new P-256 pair as env lines (or JSON), without any settings', async () => {
    const run = await herald(['vapid-keys'], { env: NO_ENV });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    const m = /^WEBPUSH_VAPID_PUBLIC_KEY=([\w-]+)\nWEBPUSH_VAPID_PRIVATE_KEY=([\w-]+)\n$/.exec(run.stdout);
    expect(m).not.toBeNull();
    // The public key is the private key's point.
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(Buffer.from(m![2], 'base64url'));
    expect(ecdh.getPublicKey().toString('base64url')).toBe(m![1]);

    const json = JSON.parse((await herald(['vapid-keys', '--json'], { env: NO_ENV })).stdout) as { publicKey: string; privateKey: string };
    expect(Buffer.from(json.publicKey, 'base64url')).toHaveLength(65);
    expect(json.publicKey).not.toBe(m![1]);
  });
});

describe('token', () => {
  it('mints a user token and a producer token with the dev secret', async () => {
    const user = await herald(['token', 'alice'], { env: { HERALD_DEV_SECRET: DEV_SECRET } });
    expect(user.code).toBe(0);
    expect(user.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const { payload } = await jwtVerify(user.stdout.trim(), new TextEncoder().encode(DEV_SECRET), { algorithms: ['HS256'] });
    expect(payload.sub).toBe('alice');
    expect(payload.scope).toBeUndefined();
    expect(payload.exp! - payload.iat!).toBe(3600);

    // AUTH_JWT_SECRET (what `npm run dev` was started with) works too; flags for the rest.
    const producer = await herald(
      ['token', 'svc', '--scope', 'messages:write,categories:write', '--expires-in', '15m']
        .concat(['--issuer', 'https://issuer.test', '--audience', 'herald']),
      { env: { AUTH_JWT_SECRET: DEV_SECRET } },
    );
    expect(producer.code).toBe(0);
    const verified = await jwtVerify(producer.stdout.trim(), new TextEncoder().encode(DEV_SECRET), {
      issuer: 'https://issuer.test',
      audience: 'herald',
    });
    expect(verified.payload).toMatchObject({ sub: 'svc', scope: 'messages:write categories:write' });
    expect(verified.payload.exp! - verified.payload.iat!).toBe(900);

    const all = await herald(['token', 'ops', '--scope', 'all'], { env: { HERALD_DEV_SECRET: DEV_SECRET } });
    const scope = (await jwtVerify(all.stdout.trim(), new TextEncoder().encode(DEV_SECRET))).payload.scope;
    expect(scope).toBe('messages:write messages:admin categories:write exposures:read presence:read webhooks:write');
  });

  it('refuses without a dev secret, and refuses a secret that is not a dev one (exit 3, no token printed)', async () => {
    const none = await herald(['token', 'alice'], { env: NO_ENV });
    expect(none).toMatchObject({ code: 3, stdout: '' });
    expect(none.stderr).toContain('herald token: no dev secret');

    const production = await herald(['token', 'alice'], { env: { AUTH_JWT_SECRET: TEST_JWT_SECRET } });
    expect(production).toMatchObject({ code: 3, stdout: '' });
    expect(production.stderr).toContain('refusing to sign: the secret is not a development secret');

    // Prefixed but too short to be a secret at all.
    const short = await herald(['token', 'alice', '--secret', `${DEV_SECRET_PREFIX}x`], { env: NO_ENV });
    expect(short).toMatchObject({ code: 3, stdout: '' });
  });

  it('rejects a bad subject, scope or lifetime with exit 2', async () => {
    const env = { HERALD_DEV_SECRET: DEV_SECRET };
    const runs = await Promise.all([
      herald(['token', 'not a user'], { env }),
      herald(['token', 'svc', '--scope', 'messages:delete'], { env }),
      herald(['token', 'svc', '--expires-in', 'forever'], { env }),
      herald(['token'], { env }),
    ]);
    expect(runs.map((r) => r.code)).toEqual([2, 2, 2, 2]);
    expect(runs[0].stderr).toContain('"not a user" is not a valid id');
    expect(runs[1].stderr).toContain('unknown scope "messages:delete"');
    expect(runs[2].stderr).toContain('--expires-in must look like');
    expect(runs[3].stderr).toContain('missing <subject>');
  });
});

describe('failures before and at the network', () => {
  it('checks the command line before contacting anything (exit 2)', async () => {
    // Nothing listens there: reaching it would be exit 1, not 2.
    const env = { HERALD_DEV_SECRET: DEV_SECRET, HERALD_INGEST_URL: `http://127.0.0.1:${await freePort()}` };
    const runs = await Promise.all([
      herald(['send', '--user', 'alice', '{not json'], { env }),
      herald(['send', '--user', 'alice', '--category', 'news', '1'], { env }),
      herald(['send', '--user', 'bad id', '1'], { env }),
      herald(['send', '--user', 'alice', '--file', '/nonexistent/payload.json'], { env }),
      herald(['send', '--user', 'alice'], { env }),
      herald(['categories', 'set', 'alice', 'bad category!'], { env }),
      herald(['exposures', 'stats'], { env }),
      herald(['exposures', '--from', 'yesterday'], { env }),
      herald(['tail', 'alice', '--count', '0'], { env }),
      herald(['presence'], { env }),
      herald(['presence', 'alice', 'bad id'], { env }),
      herald(['send', '--user', 'alice', '--replace-key', 'bad key', '1'], { env }),
      herald(['send', '--user', 'alice', '--at', '2030-02-30T10:00:00Z', '1'], { env }),
      herald(['message', 'not/an/id'], { env }),
    ]);
    expect(runs.map((r) => r.code)).toEqual([2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]);
    expect(runs[0].stderr).toContain('the payload from the payload argument is not JSON');
    expect(runs[1].stderr).toContain('--user <id>... or --category <name> (one of them)');
    expect(runs[3].stderr).toContain('cannot read --file /nonexistent/payload.json: ENOENT');
    // Empty stdin is not a payload.
    expect(runs[4].stderr).toContain('the payload from stdin is not JSON');
    expect(runs[6].stderr).toContain('needs --group-by message|category|hour');
    expect(runs[8].stderr).toContain('--count must be a whole number from 1');
    expect(runs[9].stderr).toContain('herald presence: missing <userId>');
    expect(runs[10].stderr).toContain('"bad id" is not a valid user id');
    expect(runs[11].stderr).toContain('"bad key" is not a valid replace key');
    expect(runs[12].stderr).toContain('--at "2030-02-30T10:00:00Z" is not an RFC 3339 date-time');
    expect(runs[13].stderr).toContain('"not/an/id" is not a message id');
  });

  it('says which service it cannot reach and where the address came from (exit 1)', async () => {
    const port = await freePort();
    const env = {
      HERALD_DEV_SECRET: DEV_SECRET,
      HERALD_INGEST_URL: `http://127.0.0.1:${port}`,
      HERALD_CONSUMER_URL: `http://127.0.0.1:${port}`,
    };
    const [send, exposures, inbox] = await Promise.all([
      herald(['send', '--user', 'alice', '{"x":1}'], { env }),
      herald(['exposures'], { env }),
      herald(['inbox', 'alice', '--redis', `redis://127.0.0.1:${port}`], { env }),
    ]);
    expect(send.code).toBe(1);
    expect(send.stderr).toContain(`herald send: cannot reach ingest at http://127.0.0.1:${port} (ECONNREFUSED)`);
    expect(send.stderr).toContain('HERALD_INGEST_URL');
    expect(exposures.code).toBe(1);
    expect(exposures.stderr).toContain(`cannot reach exposure-consumer at http://127.0.0.1:${port}`);
    expect(inbox.code).toBe(1);
    expect(inbox.stderr).toContain(`herald inbox: cannot read Redis at redis://127.0.0.1:${port}`);
  });

  it('asks for a token or a dev secret when it has neither (exit 3), and names a bad variable', async () => {
    const send = await herald(['send', '--user', 'alice', '1'], { env: NO_ENV });
    expect(send.code).toBe(3);
    expect(send.stderr).toContain('this needs a token with scope messages:write: pass --token or set HERALD_TOKEN');
    const badEnv = await herald(['send', '--user', 'alice', '1'], { env: { HERALD_INGEST_URL: 'ftp://nowhere' } });
    expect(badEnv.code).toBe(3);
    expect(badEnv.stderr).toContain('HERALD_INGEST_URL must use http: or https:');
  });
});
