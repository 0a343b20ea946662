/**
 * Herald apps as the benchmarks start them: `startApp` of @herald/testing, on a free loopback
 * port, with exactly the scenario's environment (plus PATH and HOME), the node flags the app's
 * image sets, and the overrides of HERALD_BENCH_APP_ENV / HERALD_BENCH_APP_NODE_FLAGS.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, startApp as startAppProcess, type AppName, type AppProcess } from '@herald/testing';

export type { AppName, AppProcess };

/**
 * Node flags an app runs with in production: the NODE_OPTIONS its image sets
 * (apps/<app>/Dockerfile), so the bench measures what ships. The gateway's keeps the young
 * generation small (docs/BENCHMARKS.md, idle memory).
 */
export function productionNodeFlags(name: AppName): string[] {
  const dockerfile = readFileSync(join(REPO_ROOT, 'apps', name, 'Dockerfile'), 'utf8');
  const value = /^ENV NODE_OPTIONS=(?:"([^"]*)"|(\S+))\s*$/m.exec(dockerfile);
  return (value?.[1] ?? value?.[2] ?? '').split(/\s+/).filter(Boolean);
}
/**
 * Extra node flags for the apps a bench starts, space-separated, e.g. `--cpu-prof
 * --cpu-prof-dir=/tmp/prof` or `--heapsnapshot-signal=SIGUSR2` (docs/BENCHMARKS.md, "Profiling").
 */
export const APP_NODE_FLAGS: string[] = (process.env.HERALD_BENCH_APP_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
/**
 * Config overrides for every app a bench starts, as `NAME=value` words separated by spaces (e.g.
 * `EXPOSURE_BUFFER_MAX=50000`); they win over the scenario's own settings. For trying a setting
 * before making it a default; the results file records them.
 */
export const APP_ENV_OVERRIDES: Record<string, string> = parseOverrides(process.env.HERALD_BENCH_APP_ENV ?? '');

function parseOverrides(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const eq = word.indexOf('=');
    if (eq <= 0) throw new Error(`HERALD_BENCH_APP_ENV: "${word}" is not NAME=value`);
    env[word.slice(0, eq)] = word.slice(eq + 1);
  }
  return env;
}

/** Start `name` on a free loopback port with exactly `env` (plus PATH, HOME and APP_ENV_OVERRIDES). */
export function startApp(name: AppName, env: Record<string, string>, signal?: AbortSignal): Promise<AppProcess> {
  return startAppProcess({
    name,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, ...APP_ENV_OVERRIDES, HOST: '127.0.0.1' },
    nodeFlags: [...productionNodeFlags(name), ...APP_NODE_FLAGS],
    signal,
  });
}
