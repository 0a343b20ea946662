/** `npm run bench -- <scenario> [--flags]` (README.md); without a scenario, or with an unknown one, it lists them. */
import { join, relative } from 'node:path';
import { REPO_ROOT } from '@herald/testing';
import { FlagError, Flags, type FlagSpecs } from './flags';
import { describeMachine, formatTable, medianRows, writeResult, type BenchResult } from './report';
import { APP_ENV_OVERRIDES, APP_NODE_FLAGS, APP_OUTPUT_DIR, WORKER_NODE_FLAGS } from './rig';
import type { Row, Scenario } from './scenario';
import { SCENARIOS } from './scenarios';

export const DEFAULT_RESULTS_DIR = join(REPO_ROOT, 'tools', 'bench', 'results');

const RUNNER_FLAGS: FlagSpecs = {
  rounds: { kind: 'int', default: '2', min: 1, description: 'times the whole scenario runs; the table shows the medians' },
};

/** `signal` stops the run at its next wait (Ctrl-C); tests pass their own results folder and scenarios. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  resultsDir?: string;
  signal?: AbortSignal;
  scenarios?: readonly Scenario[];
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<{ exitCode: number; result?: BenchResult; file?: string }> {
  const scenarios = io.scenarios ?? SCENARIOS;
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h') {
    io.stdout(usage(scenarios));
    return { exitCode: 0 };
  }
  const scenario = scenarios.find((s) => s.name === name);
  if (!scenario) {
    io.stderr(`unknown scenario "${name}"\n\n${usage(scenarios)}`);
    return { exitCode: 2 };
  }
  let flags: Flags;
  try {
    flags = Flags.parse({ ...RUNNER_FLAGS, ...scenario.flags }, args);
  } catch (err) {
    if (err instanceof FlagError) {
      io.stderr(`${err.message}\n\n${usage([scenario])}`);
      return { exitCode: 2 };
    }
    throw err;
  }

  const date = new Date().toISOString();
  const machine = describeMachine();
  const started = Date.now();
  const rounds = flags.int('rounds');
  const parameters: Record<string, unknown> = { ...flags.toJSON() };
  if (Object.keys(APP_ENV_OVERRIDES).length > 0) parameters.appEnvOverrides = APP_ENV_OVERRIDES;
  if (APP_NODE_FLAGS.length > 0) parameters.appNodeFlags = APP_NODE_FLAGS.join(' ');
  if (WORKER_NODE_FLAGS.length > 0) parameters.workerNodeFlags = WORKER_NODE_FLAGS.join(' ');
  if (APP_OUTPUT_DIR !== undefined) parameters.appOutputDir = APP_OUTPUT_DIR;
  const signal = io.signal ?? new AbortController().signal;
  const all: Row[][] = [];
  for (let round = 1; round <= rounds; round++) {
    const prefix = rounds > 1 ? `[${scenario.name} ${round}/${rounds}]` : `[${scenario.name}]`;
    const progress = (line: string) => io.stderr(`${prefix} ${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s  ${line}\n`);
    all.push(
      await scenario.run({ flags, round, rounds, progress, signal, parameter: (key, value) => void (parameters[key] = value) }),
    );
  }
  const result: BenchResult = { scenario: scenario.name, parameters, machine, date, rows: medianRows(all), rounds: all };
  const file = writeResult(io.resultsDir ?? DEFAULT_RESULTS_DIR, result);
  io.stdout(formatTable(scenario.columns, result.rows));
  io.stderr(`${rounds > 1 ? `medians of ${rounds} rounds; ` : ''}results in ${relative(process.cwd(), file) || file}\n`);
  return { exitCode: 0, result, file };
}

function usage(scenarios: readonly Scenario[]): string {
  const lines = ['usage: npm run bench -- <scenario> [--flag value ...]', '', 'scenarios:'];
  for (const scenario of scenarios) {
    lines.push(`  ${scenario.name}`, `      ${scenario.description}`);
    for (const [flag, spec] of Object.entries({ ...RUNNER_FLAGS, ...scenario.flags })) {
      lines.push(`      --${flag} (default ${spec.default}): ${spec.description}`);
    }
  }
  return lines.join('\n') + '\n';
}
