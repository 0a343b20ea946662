/**
 * Every secret-looking value in the repository must be on the known-public list (known-secrets.ts),
 * so that NODE_ENV=production refuses it: a test, example or compose secret added later without
 * being listed fails here.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { ConfigError, isKnownPublicSecret, loadConsumerConfig, loadGatewayConfig, loadIngestConfig } from '../src';

const ROOT = resolve(__dirname, '../../..');
/** Shorter secrets are refused anyway (AUTH_JWT_SECRET must be at least 32 bytes). */
const MIN_SECRET_BYTES = 32;
const CODE = new Set(['.ts', '.tsx', '.js', '.mjs', '.cjs']);
const BINARY = new Set(['.png', '.jpg', '.gif', '.ico', '.woff', '.woff2', '.gz', '.zip', '.pdf']);

/** A variable or option that holds a JWT secret: AUTH_JWT_SECRET, TEST_JWT_SECRET, `secret:`. */
const KEY = String.raw`(?:[A-Z][A-Z0-9_]*_SECRET|secret)`;
const PATTERNS: { re: RegExp; codeToo: boolean }[] = [
  // KEY = 'literal', KEY: "literal", "secret": "literal"
  { re: new RegExp(String.raw`\b${KEY}\b["']?\s*[:=]\s*(["'\x60])([^"'\x60\n]+)\1`, 'g'), codeToo: true },
  // Compose / shell defaults: ${AUTH_JWT_SECRET:-literal}
  { re: /\$\{[A-Z0-9_]*SECRET:?-()([^}]+)\}/g, codeToo: true },
  // herald token --secret literal
  { re: /--secret[ =](["']?)([^\s"'$]+)\1/g, codeToo: true },
  // YAML, .env, shell, Markdown: KEY: literal / KEY=literal (not an expansion or a reference)
  { re: new RegExp(String.raw`\b${KEY}\b[ \t]*[:=][ \t]*()([^\s"'\x60$({\[<-][^\s"'\x60,;)}]*)`, 'g'), codeToo: false },
];

/** Literal values assigned to a JWT secret in one file's text, with their line numbers. */
export function secretCandidates(text: string, file: string): { line: number; value: string }[] {
  const code = CODE.has(extname(file));
  const found: { line: number; value: string }[] = [];
  for (const { re, codeToo } of PATTERNS) {
    if (code && !codeToo) continue;
    for (const m of text.matchAll(re)) {
      const value = m[2].trim();
      if (Buffer.byteLength(value) < MIN_SECRET_BYTES || value.startsWith('$') || /^\.+$/.test(value)) continue;
      found.push({ line: text.slice(0, m.index).split('\n').length, value });
    }
  }
  return found;
}

function trackedFiles(): string[] {
  return execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
    .split('\0')
    .filter((f) => f && !BINARY.has(extname(f)) && f !== 'package-lock.json');
}

function repositorySecrets(): { where: string; value: string }[] {
  const out: { where: string; value: string }[] = [];
  for (const file of trackedFiles()) {
    let text: string;
    try {
      text = readFileSync(join(ROOT, file), 'utf8');
    } catch {
      continue; // deleted in the work tree but still in the index
    }
    for (const c of secretCandidates(text, file)) out.push({ where: `${file}:${c.line}`, value: c.value });
  }
  return out;
}

const found = repositorySecrets();

it('every secret-looking value in a tracked file is on the known-public list', () => {
  const unlisted = found.filter((s) => !isKnownPublicSecret(s.value)).map((s) => `${s.where} ${s.value}`);
  // Add its SHA-256 to KNOWN_PUBLIC_SECRET_SHA256 (libs/config/src/known-secrets.ts), or don't commit it.
  expect(unlisted).toEqual([]);
  // The scan does find the secrets the tests use (else it would pass by finding nothing).
  expect(found.some((s) => s.where.startsWith('libs/testing/src/tokens.ts:'))).toBe(true);
});

it('NODE_ENV=production refuses every secret found in the repository, in every app', () => {
  for (const { value } of found) {
    for (const load of [loadGatewayConfig, loadIngestConfig, loadConsumerConfig]) {
      const env = { AUTH_JWT_SECRET: value, NODE_ENV: 'production' };
      expect(() => load(env)).toThrow(ConfigError);
      expect(() => load(env)).toThrow(/published in the Herald repository/);
      expect(load({ AUTH_JWT_SECRET: value }).AUTH_JWT_SECRET).toBe(value);
    }
  }
  // The default docker-compose.yml shipped before compose required a secret.
  expect(() => loadGatewayConfig({ AUTH_JWT_SECRET: 'change-me-dev-secret-at-least-32-bytes-long', NODE_ENV: 'production' })).toThrow(
    /published in the Herald repository/,
  );
  // A secret of one's own is fine.
  expect(loadGatewayConfig({ AUTH_JWT_SECRET: 'f'.repeat(7) + '3a9c0d1e2b4f5a6978c0d1e2f3a4b5c6', NODE_ENV: 'production' })).toBeTruthy();
});

it('the scan finds literals in compose, YAML, .env, shell, Markdown and code, and skips references', () => {
  // Built, not written as one literal: this file is scanned too.
  const secret = ['a-new-secret', 'nobody-listed', '0123456789abcdef'].join('-');
  const hits = (text: string, file: string) => secretCandidates(text, file).map((c) => c.value);
  expect(hits(`      AUTH_JWT_SECRET: \${AUTH_JWT_SECRET:-${secret}}\n`, 'docker-compose.yml')).toContain(secret);
  expect(hits(`      AUTH_JWT_SECRET: ${secret}\n`, 'k8s/base/secret.yaml')).toEqual([secret]);
  expect(hits(`AUTH_JWT_SECRET=${secret}\n`, '.env.example')).toEqual([secret]);
  expect(hits(`export HERALD_DEV_SECRET="${secret}"\n`, 'docs/CLI.md')).toEqual([secret]);
  expect(hits(`npx herald token demo --secret ${secret}\n`, 'README.md')).toEqual([secret]);
  expect(hits(`export const TEST_JWT_SECRET = '${secret}';\n`, 'libs/testing/src/tokens.ts')).toEqual([secret]);
  expect(hits(`signToken('u', { secret: \`${secret}\` })\n`, 'apps/x/test/a.spec.ts')).toEqual([secret]);
  expect(hits(`{ "secret": "${secret}" }\n`, 'fixtures/x.json')).toEqual([secret]);
  // References, expansions, placeholders and short values are no secrets.
  const none = [
    ['AUTH_JWT_SECRET: TEST_JWT_SECRET_FROM_THE_TESTING_LIBRARY_X,\n', 'a.ts'],
    ['AUTH_JWT_SECRET: ${AUTH_JWT_SECRET:?set AUTH_JWT_SECRET, e.g. openssl rand -hex 32}\n', 'docker-compose.yml'],
    ['AUTH_JWT_SECRET=$(openssl rand -hex 32) docker compose up\n', 'README.md'],
    ['--from-literal=AUTH_JWT_SECRET="$(openssl rand -hex 32)"\n', 'docs/OPERATIONS.md'],
    ['--from-literal=AUTH_JWT_SECRET=... --from-literal=DATABASE_URL=postgres://...\n', 'k8s/overlays/dev/kustomization.yaml'],
    ["secret: 'x'.repeat(32)\n", 'a.spec.ts'],
  ];
  for (const [text, file] of none) expect(hits(text, file)).toEqual([]);
});
