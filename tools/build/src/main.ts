/**
 * `node --import tsx tools/build/src/main.ts [name…]`: builds the named bundles (all of them when
 * none is named) into dist/. The Nx `build` targets, the Dockerfile's build stage and
 * `npm run dev` run it.
 */
import { relative } from 'node:path';
import { BUNDLE_NAMES, REPO_ROOT, bundle, type BundleName } from './bundle';

async function main(): Promise<void> {
  const asked = process.argv.slice(2);
  const unknown = asked.filter((n) => !(BUNDLE_NAMES as string[]).includes(n));
  if (unknown.length > 0) throw new Error(`unknown bundle ${unknown.join(', ')}; known: ${BUNDLE_NAMES.join(', ')}`);
  const names = asked.length > 0 ? (asked as BundleName[]) : BUNDLE_NAMES;
  const started = Date.now();
  const results = await Promise.all(names.map((name) => bundle(name)));
  for (const r of results) {
    const assets = r.assets.length > 0 ? ` (+ ${r.assets.join(', ')})` : '';
    process.stdout.write(`built ${relative(REPO_ROOT, r.file)}${assets}\n`);
  }
  process.stdout.write(`${results.length} bundle(s) in ${Date.now() - started} ms\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`build failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
