/**
 * The compiled build. The other black-box tests run the apps from their TypeScript sources (no
 * build step, see libs/stack/src/app-process.ts); this one builds every bundle, as the images
 * and `npm run dev` run them, and starts the whole stack from them once: each app ready on
 * /readyz, one message from ingest through the gateway to a WebSocket (the Lua scripts copied
 * beside the bundles), its exposure stored by the consumer (embedded Postgres, Pub/Sub through
 * the emulator's own bundle), the dashboard's files served, and a clean stop. A bundling bug (a
 * file read beside a module, an ES-module-only package, a dev dependency required at run time)
 * fails here, not in production.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Metafile } from 'esbuild';
import { freePort, signToken, startPubSub, startTestStack, TestClient, waitFor, type RunningPubSub, type Stack } from '@herald/testing';
import type { ExposureEvent } from '@herald/types';
import { BUNDLE_NAMES, bundle, bundlePath, checkExternals, type BundleResult } from '../src/bundle';

describe('checkExternals', () => {
  const metafile = (paths: string[]): Metafile => ({
    inputs: {},
    outputs: { 'main.js': { bytes: 0, inputs: {}, exports: [], imports: paths.map((path) => ({ path, kind: 'require-call', external: true })) } },
  });

  it('names the packages a bundle requires, by package, and passes node built-ins', () => {
    const { packages, problems } = checkExternals(metafile(['node:fs', 'path', 'pino', 'pino/file', '@google-cloud/pubsub/build/src']), {
      pino: '1',
      '@google-cloud/pubsub': '1',
    });
    expect(packages).toEqual(['@google-cloud/pubsub', 'pino']);
    expect(problems).toEqual([]);
  });

  it('refuses a package that is not a production dependency', () => {
    const { problems } = checkExternals(metafile(['tsx', 'pino']), { pino: '1' });
    expect(problems).toEqual(['the bundle requires "tsx", which is not in package.json "dependencies" (an image installs only those)']);
  });
});

describe('the stack from its bundles', () => {
  let built: BundleResult[];
  let pubsub: RunningPubSub;
  let stack: Stack;

  beforeAll(async () => {
    built = await Promise.all(BUNDLE_NAMES.map((name) => bundle(name)));
    // Herald's emulator, from its bundle (Google's, when installed, would not exercise it).
    pubsub = await startPubSub({ kind: 'herald', from: 'dist' });
    const dataParent = mkdtempSync(join(tmpdir(), 'herald-build-'));
    chmodSync(dataParent, 0o755);
    ({ stack } = await startTestStack({
      HERALD_RUN_FROM: 'dist',
      PUBSUB_EMULATOR_HOST: pubsub.emulatorHost,
      PUBSUB_PROJECT_ID: pubsub.projectId,
      EMBEDDED_PG_DIR: join(dataParent, 'pg'),
      EMBEDDED_PG_PORT: String(await freePort()),
      EXPOSURE_TOPIC: 'exposures-build',
      EXPOSURE_SUBSCRIPTION: 'exposures-build-consumer',
    }));
  }, 120_000);

  afterAll(async () => {
    const codes = await Promise.all(Object.values(stack?.apps ?? {}).map((app) => app.stop()));
    await stack?.stop();
    await pubsub?.stop();
    expect(codes).toEqual([0, 0, 0]);
  }, 60_000);

  it('builds each bundle with its source map and the files its modules read', () => {
    const byName = Object.fromEntries(built.map((b) => [b.name, b]));
    for (const b of built) {
      expect(b.file).toBe(bundlePath(b.name));
      expect(readFileSync(b.file, 'utf8')).toMatch(/\/\/# sourceMappingURL=main\.js\.map\s*$/);
      expect(existsSync(`${b.file}.map`)).toBe(true);
      expect(b.packages).not.toContain('tsx');
    }
    expect(byName.gateway.assets).toEqual(['scripts']);
    expect(byName.ingest.assets).toEqual(['scripts']);
    expect(byName['exposure-consumer'].assets).toEqual(['dashboard']);
    expect(byName['pubsub-emulator'].assets).toEqual([]);
  });

  it('runs every app from its bundle, ready on /readyz (startApp waited for 200)', () => {
    for (const app of Object.values(stack.apps)) {
      const argv = readFileSync(`/proc/${app.pid}/cmdline`, 'utf8').split('\0');
      expect(argv).toContain(bundlePath(app.name));
      expect(argv).toContain('--enable-source-maps');
      expect(argv).not.toContain('tsx');
    }
  });

  it('delivers a message over the WebSocket and stores its exposure', async () => {
    const user = `build-${Date.now()}`;
    const producer = await signToken('producer', { scope: 'messages:write' });
    const analyst = await signToken('analyst', { scope: 'exposures:read' });
    const client = await TestClient.connect(`${stack.apps.gateway.url.replace(/^http/, 'ws')}/ws`, await signToken(user));
    const res = await fetch(`${stack.apps.ingest.url}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${producer}`, 'content-type': 'application/json' },
      body: JSON.stringify({ userIds: [user], payload: { text: 'from the bundle' } }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    expect((await client.waitForMessages(1))[0]).toMatchObject({ id, payload: { text: 'from the bundle' } });
    await client.close();
    const stored = await waitFor(
      async () => {
        const rows = await fetch(`${stack.apps['exposure-consumer'].url}/v1/exposures?userId=${user}`, {
          headers: { authorization: `Bearer ${analyst}` },
        });
        const items = ((await rows.json()) as { items: ExposureEvent[] }).items;
        return items.length > 0 && items;
      },
      { timeoutMs: 20_000, what: 'the exposure row' },
    );
    expect(stored.map((e) => e.messageId)).toEqual([id]);
  }, 60_000);

  it("serves the consumer's dashboard files from beside its bundle", async () => {
    for (const path of ['/', '/dashboard.js', '/dashboard.css']) {
      const res = await fetch(`${stack.apps['exposure-consumer'].url}${path}`);
      expect(res.status).toBe(200);
      expect((await res.text()).length).toBeGreaterThan(0);
    }
  });
});
