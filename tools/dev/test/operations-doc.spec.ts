/**
 * docs/OPERATIONS.md against the code: every configuration variable of every app in the right
 * columns, every Prometheus metric it names registered by the apps (or by prom-client) and every
 * metric the apps register listed with its type, a runbook with the same four parts for each
 * fault, alerts written over real metrics, and every repository path it names existing. Every
 * check returns a list of problems; the "catches" tests feed each one a broken copy.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { APP_NAMES, ROOT, SCHEMAS, read } from './support/deploy-config';

const DOC = 'docs/OPERATIONS.md';

/** The faults the runbooks must cover (issue #7's fault suite), as their headings. */
const RUNBOOKS = [
  'Gateway killed (SIGKILL) mid-drain',
  'Gateway stopped (SIGTERM) under live traffic',
  'Redis restarted under traffic',
  'Pub/Sub down',
  'Exposure spill full',
  'Exposure spill replay failing',
  'Exposure-consumer killed (SIGKILL) mid-batch',
  'Postgres down',
  'Ack flood from one user',
  'Slow offline drain (large messages, slow links)',
];
const RUNBOOK_PARTS = ['Symptoms', 'Where it shows', 'What Herald does', 'What you do'];
const SECTIONS = ['## Images', '## Deploy', '### Docker Compose', '### Kubernetes', '## Scale', '## Roll', '## Configuration', '### Metrics', '## Alerts', '## Runbooks'];

/** `## Heading` → the text up to the next heading of the same or a higher level. */
function section(text: string, heading: string): string | undefined {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === heading);
  if (start < 0) return undefined;
  const level = heading.indexOf(' ');
  const end = lines.findIndex((l, i) => i > start && /^#+ /.test(l) && l.indexOf(' ') <= level);
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

// ---------------------------------------------------------------------------------------------
// Configuration table

/** Defaults computed at start (the gateway id is made of the host name); the doc describes them. */
const COMPUTED_DEFAULTS = new Set(['GATEWAY_ID']);

/** The Default column as the schema would print it: `—` for none, `a / b / c` when apps differ. */
function expectedDefault(name: string): string {
  const defaults = APP_NAMES.filter((app) => name in SCHEMAS[app]).map((app) => SCHEMAS[app][name].parse(undefined, name));
  const shown = defaults.map((d) => (d === undefined ? '—' : String(d)));
  return new Set(shown).size === 1 ? shown[0] : shown.join(' / ');
}

/** The Configuration table: `| \`NAME\` | ✓ | ✓ | ✓ | default | meaning |`. */
function checkConfigTable(text: string): string[] {
  const problems: string[] = [];
  const rows = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|(.*)\|\s*$/.exec(line);
    if (!m) continue;
    const cells = m[2].split('|').map((c) => c.trim());
    if (cells.length === 5) rows.set(m[1], cells.slice(0, 4));
  }
  const all = new Set(APP_NAMES.flatMap((app) => Object.keys(SCHEMAS[app])));
  for (const name of all) {
    const cells = rows.get(name);
    if (!cells) {
      problems.push(`${DOC}: ${name} is missing from the configuration table`);
      continue;
    }
    APP_NAMES.forEach((app, i) => {
      if ((cells[i] === '✓') !== name in SCHEMAS[app]) problems.push(`${DOC}: ${name} column ${app} is wrong`);
    });
    const shown = cells[3].replace(/`/g, '').replace(/(\d),(?=\d{3})/g, '$1');
    if (!COMPUTED_DEFAULTS.has(name) && shown !== expectedDefault(name)) {
      problems.push(`${DOC}: ${name} default is ${expectedDefault(name)}, the table says ${cells[3]}`);
    }
  }
  for (const name of rows.keys()) if (!all.has(name)) problems.push(`${DOC}: ${name} is in no config schema`);
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Metrics

type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts') ? [join(dir, e.name)] : [],
  );
}

/**
 * The `herald_*` metrics the apps and libs register, with types: `new Counter({ name: '…' })`, or
 * through a helper named after the type, `counter('…', …)` (apps/gateway/src/metrics.ts).
 */
function registeredMetrics(): Map<string, MetricType> {
  const metrics = new Map<string, MetricType>();
  const dirs = ['apps', 'libs'].flatMap((top) => readdirSync(join(ROOT, top)).map((name) => join(ROOT, top, name, 'src')));
  for (const file of dirs.flatMap(sourceFiles)) metricsIn(readFileSync(file, 'utf8'), metrics);
  return metrics;
}

function metricsIn(text: string, metrics = new Map<string, MetricType>()): Map<string, MetricType> {
  for (const m of text.matchAll(/new (Counter|Gauge|Histogram|Summary)\b(?:<[^>]*>)?\(\{\s*name:\s*'(herald_[a-z0-9_]+)'/g)) {
    metrics.set(m[2], m[1].toLowerCase() as MetricType);
  }
  for (const m of text.matchAll(/\b(counter|gauge|histogram|summary)\(\s*'(herald_[a-z0-9_]+)'/g)) metrics.set(m[2], m[1] as MetricType);
  return metrics;
}

/** prom-client's default Node.js and process metrics (collectDefaultMetrics). */
function defaultMetrics(): Set<string> {
  const dir = join(ROOT, 'node_modules/prom-client/lib/metrics');
  const names = new Set<string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.js'))) {
    for (const m of readFileSync(join(dir, file), 'utf8').matchAll(/'((?:nodejs|process)_[a-z0-9_]+)'/g)) names.add(m[1]);
  }
  return names;
}

const SUFFIXES = ['_bucket', '_sum', '_count'];

/** Metric names in the doc must exist; the Metrics table must list every registered one, typed. */
function checkMetricsDoc(text: string, registered: Map<string, MetricType>, defaults: Set<string>): string[] {
  const problems: string[] = [];
  const known = (name: string): boolean => {
    if (registered.has(name) || defaults.has(name)) return true;
    const suffix = SUFFIXES.find((s) => name.endsWith(s));
    const base = suffix ? name.slice(0, -suffix.length) : undefined;
    return !!base && ['histogram', 'summary'].includes(registered.get(base) ?? '');
  };
  for (const name of new Set([...text.matchAll(/\b((?:herald|nodejs|process)_[a-z0-9_]+)\b/g)].map((m) => m[1]))) {
    if (!known(name)) problems.push(`${DOC}: ${name} is no metric the apps or prom-client register`);
  }
  const table = new Map<string, string>();
  for (const m of (section(text, '### Metrics') ?? '').matchAll(/^\|\s*`(herald_[a-z0-9_]+)`\s*\|\s*([a-z]+)\s*\|/gm)) table.set(m[1], m[2]);
  for (const [name, type] of registered) {
    if (!table.has(name)) problems.push(`${DOC}: metric ${name} (${type}) is missing from the Metrics table`);
    else if (table.get(name) !== type) problems.push(`${DOC}: metric ${name} is a ${type}, the table says ${table.get(name)}`);
  }
  for (const name of table.keys()) if (!registered.has(name)) problems.push(`${DOC}: the Metrics table lists ${name}, which nothing registers`);
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Structure: sections, runbooks, alerts, paths

function checkStructure(text: string): string[] {
  const problems: string[] = [];
  for (const heading of SECTIONS) if (section(text, heading) === undefined) problems.push(`${DOC}: no "${heading}" section`);
  const roll = section(text, '## Roll') ?? '';
  for (const [fact, pattern] of [
    ['readiness 503 at once', /readyz`? answers 503 at once/],
    ['sessions closed with 1012', /\b1012\b/],
    ['clients reconnect with jitter', /jitter/],
    ['terminationGracePeriodSeconds above the drain deadline', /terminationGracePeriodSeconds[\s\S]*SHUTDOWN_TIMEOUT_MS/],
  ] as const) {
    if (!pattern.test(roll)) problems.push(`${DOC}: the Roll section does not say: ${fact}`);
  }
  return problems;
}

function checkRunbooks(text: string): string[] {
  const problems: string[] = [];
  const runbooks = section(text, '## Runbooks') ?? '';
  for (const fault of RUNBOOKS) {
    const body = section(runbooks, `### ${fault}`);
    if (body === undefined) {
      problems.push(`${DOC}: no runbook "### ${fault}"`);
      continue;
    }
    for (const part of RUNBOOK_PARTS) {
      const m = new RegExp(`^- \\*\\*${part}\\*\\*: (\\S[\\s\\S]*?)(?=^- \\*\\*|$(?![\\s\\S]))`, 'm').exec(body);
      if (!m) problems.push(`${DOC}: runbook "${fault}" has no "${part}"`);
    }
    const shows = /^- \*\*Where it shows\*\*:([\s\S]*?)(?=^- \*\*)/m.exec(body)?.[1] ?? '';
    if (!/`(?:herald|nodejs|process)_[a-z0-9_]+/.test(shows)) problems.push(`${DOC}: runbook "${fault}" names no metric where it shows`);
  }
  return problems;
}

function checkAlerts(text: string): string[] {
  const problems: string[] = [];
  const rows = (section(text, '## Alerts') ?? '').split('\n').filter((l) => /^\|/.test(l) && !/^\|\s*(Alert|---)/.test(l));
  if (rows.length < 10) problems.push(`${DOC}: ${rows.length} alerts, expected at least 10`);
  for (const row of rows) {
    const cells = row.split(/(?<!\\)\|/).map((c) => c.trim()).filter((_cell, i, all) => i > 0 && i < all.length - 1);
    const [name, expression, duration] = cells;
    if (!/^`[^`]+`$/.test(expression ?? '')) problems.push(`${DOC}: alert "${name}" has no expression`);
    if (!/^\d+[smh]$/.test(duration ?? '')) problems.push(`${DOC}: alert "${name}" has no "for" duration`);
  }
  const herald = rows.filter((r) => /herald_/.test(r)).length;
  if (herald < 10) problems.push(`${DOC}: only ${herald} alerts use Herald's own metrics`);
  return problems;
}

/** Repository paths named in backticks must exist. */
function checkPaths(text: string): string[] {
  const problems: string[] = [];
  for (const m of text.matchAll(/`((?:apps|libs|tools|k8s|docs)\/[A-Za-z0-9_./-]*|docker-compose\.yml|\.dockerignore|[A-Z]+\.md)`/g)) {
    const path = m[1].replace(/\/$/, '');
    const where = /^[A-Z]+\.md$/.test(path) && path !== 'README.md' ? (path === 'DESIGN.md' ? undefined : join('docs', path)) : path;
    if (where && !existsSync(join(ROOT, where))) problems.push(`${DOC}: names ${m[1]}, which does not exist`);
  }
  return problems;
}

const doc = read(DOC);
const registered = registeredMetrics();
const defaults = defaultMetrics();

describe('docs/OPERATIONS.md', () => {
  it('documents every variable of every app, in the right columns, with its default', () => {
    expect(checkConfigTable(doc)).toEqual([]);
  });

  it('names only real metrics and lists every metric the apps register, with its type', () => {
    // The scan must find the apps' metrics at all, or the check would pass on nothing.
    expect(registered.size).toBeGreaterThanOrEqual(20);
    expect(registered.get('herald_gateway_connections')).toBe('gauge');
    // Both forms: the gateway declares through counter()/gauge()/histogram(), the others with `new`.
    expect(registered.get('herald_gateway_drain_seconds')).toBe('histogram');
    expect([...metricsIn("x: counter('herald_a_total', 'A'), y: new Gauge({ name: 'herald_b', help: 'B' })")]).toEqual([
      ['herald_b', 'gauge'],
      ['herald_a_total', 'counter'],
    ]);
    expect(defaults.has('nodejs_eventloop_lag_p99_seconds')).toBe(true);
    expect(checkMetricsDoc(doc, registered, defaults)).toEqual([]);
  });

  it('has the deploy, scale, roll and alert sections, and says how a rolling update drains gateways', () => {
    expect(checkStructure(doc)).toEqual([]);
  });

  it('has a runbook for each fault: symptoms, where it shows, what Herald does, what you do', () => {
    expect(checkRunbooks(doc)).toEqual([]);
  });

  it('writes alerts as expressions over real metrics', () => {
    expect(checkAlerts(doc)).toEqual([]);
  });

  it('names only files that exist', () => {
    expect(checkPaths(doc)).toEqual([]);
  });

  it('catches a missing and a misplaced variable and a stale default', () => {
    const broken = doc
      .replace(/^\| `INBOX_CAP`.*\n/m, '')
      .replace(/^\| `REDIS_URL` \| ✓ \| ✓ \| \|/m, '| `REDIS_URL` | ✓ | ✓ | ✓ |')
      .replace(/^(\| `DRAIN_BATCH_SIZE` \| ✓ \| \| \| )\d+/m, '$1250')
      .replace(/^(\| `PORT` \| ✓ \| ✓ \| ✓ \| )[^|]+/m, '$18080 ');
    const problems = checkConfigTable(broken).join('\n');
    expect(problems).toMatch(/INBOX_CAP is missing/);
    expect(problems).toMatch(/REDIS_URL column exposure-consumer is wrong/);
    expect(problems).toMatch(/DRAIN_BATCH_SIZE default is 100, the table says 250/);
    expect(problems).toMatch(/PORT default is 8080 \/ 8081 \/ 8082, the table says 8080/);
  });

  it('catches an invented metric, an undocumented one and a wrong type', () => {
    const broken = doc
      .replace('`herald_exposures_spilled > 0`', '`herald_exposures_spill_depth > 0`')
      .replace(/^\| `herald_exposures_pending` .*\n/m, '')
      .replace('| `herald_gateway_connections` | gauge |', '| `herald_gateway_connections` | counter |');
    const withInvented = `${broken}\n\`herald_made_up_total\` and \`nodejs_made_up_seconds\`\n`;
    const problems = checkMetricsDoc(withInvented, registered, defaults).join('\n');
    expect(problems).toMatch(/herald_made_up_total is no metric/);
    expect(problems).toMatch(/nodejs_made_up_seconds is no metric/);
    expect(problems).toMatch(/metric herald_exposures_pending \(gauge\) is missing from the Metrics table/);
    expect(problems).toMatch(/metric herald_gateway_connections is a gauge, the table says counter/);
    const extra = new Map(registered).set('herald_new_metric_total', 'counter');
    expect(checkMetricsDoc(doc, extra, defaults).join('\n')).toMatch(/herald_new_metric_total \(counter\) is missing/);
  });

  it('catches a missing runbook, a runbook part and a drain fact', () => {
    const broken = doc
      .replace('### Postgres down', '### Postgres trouble')
      .replace(/(### Redis restarted under traffic[\s\S]*?)- \*\*What you do\*\*/, '$1- **Then**')
      .replace(/^\d\. SIGTERM: `\/readyz` answers 503 at once/m, '2. SIGTERM: readiness changes');
    expect(checkRunbooks(broken).join('\n')).toMatch(/no runbook "### Postgres down"/);
    expect(checkRunbooks(broken).join('\n')).toMatch(/runbook "Redis restarted under traffic" has no "What you do"/);
    expect(checkStructure(broken).join('\n')).toMatch(/the Roll section does not say: readiness 503 at once/);
    const noMetric = doc.replace(/(### Postgres down[\s\S]*?- \*\*Where it shows\*\*:)[\s\S]*?(?=- \*\*What Herald does)/, '$1 the logs.\n');
    expect(checkRunbooks(noMetric).join('\n')).toMatch(/runbook "Postgres down" names no metric where it shows/);
  });

  it('catches alerts without an expression and stale paths', () => {
    const broken = doc.replace(/^\| Dead letters \| `[^`]*` \| 0m \|/m, '| Dead letters | see the dashboard | soon |');
    const problems = checkAlerts(broken).join('\n');
    expect(problems).toMatch(/alert "Dead letters" has no expression/);
    expect(problems).toMatch(/alert "Dead letters" has no "for" duration/);
    expect(checkPaths('Build with `apps/gateway/Dockerfile.old` and `k8s/overlays/staging`.').join('\n')).toMatch(
      /names apps\/gateway\/Dockerfile.old[\s\S]*names k8s\/overlays\/staging/,
    );
  });
});
