/** The smoke tests' way in: `npm run bench -- <argv> --rounds 1` in-process, into a throwaway results folder. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../src/cli';
import type { BenchResult } from '../src/report';
import type { Row } from '../src/scenario';

/** The result as written to its file, and what went to stdout and stderr; throws with stderr when the run fails. */
export async function bench(argv: string[]): Promise<BenchResult & { file: string; stdout: string; stderr: string }> {
  const resultsDir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
  let [stdout, stderr] = ['', ''];
  try {
    const io = { stdout: (t: string) => void (stdout += t), stderr: (t: string) => void (stderr += t), resultsDir };
    const { exitCode, file } = await runCli([...argv, '--rounds', '1'], io);
    if (exitCode !== 0 || !file) throw new Error(`bench ${argv.join(' ')} exited with ${exitCode}:\n${stderr}`);
    return { ...(JSON.parse(readFileSync(file, 'utf8')) as BenchResult), file, stdout, stderr };
  } finally {
    rmSync(resultsDir, { recursive: true, force: true });
  }
}

export function expectNumbers(row: Row, keys: readonly string[]): void {
  for (const key of keys) expect({ key, type: typeof row[key] }).toEqual({ key, type: 'number' });
}
