// `npm test`: every project's tests, in two phases so that the whole run fits CI's time on two cores.
//
// 1. The stack-level suites of tools/dev and tools/bench one at a time: each runs several
//    processes (gateways, ingest, the consumer, Postgres, load generators) and some measure or
//    cause faults, so they get the machine to themselves. Some also use fixed places (the dev
//    launcher's ports and state directory).
// 2. Everything else (the libraries, the apps' suites on their own private redis-server, emulator
//    and Postgres on free ports, the CLI's against a stack of its own on free ports and a temporary
//    directory) two suites at a time: they mostly wait on I/O.
//
// Arguments are passed to both phases. With `--json --outputFile=<file>` (what .ci/run asks for)
// each phase writes its own report and the two are merged into <file>, so the counts cover both.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

const SERIAL = ['dev', 'bench'];
const PARALLEL = ['cli', 'types', 'config', 'logger', 'buffers', 'redis', 'auth', 'pubsub', 'http', 'stack', 'testing', 'client', 'pubsub-emulator', 'build-tools', 'gateway', 'ingest', 'exposure-consumer'];

const args = process.argv.slice(2);
let outputFile;
const passed = [];
for (let i = 0; i < args.length; i++) {
  if (args[i].startsWith('--outputFile=')) outputFile = args[i].slice('--outputFile='.length);
  else if (args[i] === '--outputFile') outputFile = args[++i];
  else passed.push(args[i]);
}

const phases = [
  { name: 'stack suites, one at a time', projects: SERIAL, workers: ['--runInBand'] },
  { name: 'the rest, two at a time', projects: PARALLEL, workers: ['--maxWorkers=2'] },
];

let status = 0;
const reports = [];
for (const [i, phase] of phases.entries()) {
  const report = outputFile ? `${outputFile}.phase${i + 1}` : undefined;
  if (report) rmSync(report, { force: true });
  process.stdout.write(`\n[npm test] phase ${i + 1}: ${phase.name}\n`);
  const run = spawnSync(
    process.execPath,
    [
      'node_modules/jest/bin/jest.js',
      '--ci',
      // A path pattern given to `npm test` may match suites of one phase only.
      '--passWithNoTests',
      ...phase.workers,
      '--selectProjects',
      ...phase.projects,
      ...passed,
      ...(report ? ['--outputFile', report] : []),
    ],
    { stdio: 'inherit' },
  );
  if (run.status !== 0) status = run.status ?? 1;
  if (report && existsSync(report)) reports.push(JSON.parse(readFileSync(report, 'utf8')));
  if (report) rmSync(report, { force: true });
}

if (outputFile) {
  const sum = (field) => reports.reduce((n, r) => n + (r[field] ?? 0), 0);
  const merged = {
    ...reports[0],
    success: reports.length === phases.length && reports.every((r) => r.success),
    testResults: reports.flatMap((r) => r.testResults ?? []),
  };
  for (const field of Object.keys(reports[0] ?? {})) {
    if (typeof reports[0][field] === 'number' && field !== 'startTime') merged[field] = sum(field);
  }
  writeFileSync(outputFile, JSON.stringify(merged));
}
process.exit(status);
