/**
 * The analysts' dashboard (Contract: `GET /`): a static page, its scripts and its stylesheet. They
 * hold no data, so they need no token; the page reads `/v1/exposures/stats`, the funnel and the
 * lifecycle counts with the analyst's own token. The files are read once, when the routes are
 * registered: from `src/dashboard` beside this folder when run from the sources, from `dashboard` beside the bundle when run from
 * `dist/apps/exposure-consumer/main.js` (tools/build copies it there).
 *
 * The content security policy admits this origin only and no inline script or style: the script
 * and stylesheet are files served here, and the page builds its DOM with textContent and SVG
 * attributes, never markup from data.
 */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { FastifyInstance } from 'fastify';

const DASHBOARD_DIR = basename(__dirname) === 'routes' ? join(__dirname, '..', 'dashboard') : join(__dirname, 'dashboard');

export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** What is served, by path: the file in DASHBOARD_DIR and its content type. */
const ASSETS = {
  '/': { file: 'dashboard.html', type: 'text/html; charset=utf-8' },
  '/dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  '/funnel.js': { file: 'funnel.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard.css': { file: 'dashboard.css', type: 'text/css; charset=utf-8' },
} as const;

export function registerDashboardRoute(app: FastifyInstance): void {
  for (const [path, { file, type }] of Object.entries(ASSETS)) {
    const body = readAsset(file);
    app.get(path, { schema: { hide: true } }, async (_request, reply) =>
      reply
        .header('content-type', type)
        .header('content-security-policy', DASHBOARD_CSP)
        .header('cache-control', 'no-store')
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .send(body),
    );
  }
}

function readAsset(file: string): string {
  const path = join(DASHBOARD_DIR, file);
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`The dashboard file ${path} cannot be read; it ships with the sources in apps/exposure-consumer/src/dashboard and beside the bundle in dist/apps/exposure-consumer/dashboard.`, {
      cause: err,
    });
  }
}
