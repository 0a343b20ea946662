/**
 * Bundles the browser example (main.ts + the SDK) with esbuild and serves it with index.html.
 *
 *   node --import tsx libs/client/examples/browser/serve.ts [port]
 *
 * then open the printed address with `#url=ws://127.0.0.1:8080/ws&token=<user token>`.
 */
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { build } from 'esbuild';

const HERE = __dirname;
const REPO_ROOT = join(HERE, '..', '..', '..', '..');

export interface ExampleBundle {
  js: string;
  /** Every source file in the bundle, relative to the repository root. */
  inputs: string[];
}

/** The example and the SDK as one browser script (ES2020, no Node built-ins, no `ws`). */
export async function bundleExample(): Promise<ExampleBundle> {
  const result = await build({
    entryPoints: [join(HERE, 'main.ts')],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2020',
    // @herald/* paths come from here.
    tsconfig: join(REPO_ROOT, 'tsconfig.base.json'),
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return {
    js: result.outputFiles[0].text,
    inputs: Object.keys(result.metafile.inputs).map((p) => relative(REPO_ROOT, join(process.cwd(), p))),
  };
}

export interface ExampleServer {
  /** http://127.0.0.1:<port>/ */
  url: string;
  close(): Promise<void>;
}

export async function serveExample(port = 0, host = '127.0.0.1'): Promise<ExampleServer> {
  const { js } = await bundleExample();
  const html = readFileSync(join(HERE, 'index.html'));
  // The service worker of the Web Push example, served at the root so that its scope is the page's.
  const worker = readFileSync(join(HERE, 'sw.js'));
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
    } else if (path === '/sw.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(worker);
    } else if (path === '/example.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(js);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const { port: bound } = server.address() as { port: number };
  return {
    url: `http://${host}:${bound}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

if (require.main === module) {
  serveExample(Number(process.argv[2] ?? 8090)).then(
    ({ url }) => process.stdout.write(`Herald browser example at ${url}#url=ws://127.0.0.1:8080/ws&token=<user token>\n`),
    (err: unknown) => {
      process.stderr.write(`cannot serve the example: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
