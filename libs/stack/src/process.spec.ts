/**
 * atExit: what a process does as it exits (kill its children), however many children it has,
 * under one 'exit' listener; run in a child Node process that exits.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const PROCESS_TS = join(__dirname, 'process.ts');

it('runs every hook at exit under one listener (no MaxListenersExceededWarning for twelve), and not a removed one', () => {
  const script = `
    const { atExit } = require(${JSON.stringify(PROCESS_TS)});
    const before = process.listenerCount('exit');
    for (let i = 0; i < 12; i++) {
      const remove = atExit(() => process.stdout.write('hook ' + i + '\\n'));
      if (i === 5) remove();
    }
    process.stdout.write('listeners added ' + (process.listenerCount('exit') - before) + '\\n');
  `;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  expect(run.stderr).not.toContain('MaxListenersExceededWarning');
  expect(run.status).toBe(0);
  const hooks = Array.from({ length: 12 }, (_, i) => i).filter((i) => i !== 5).map((i) => `hook ${i}`);
  expect(run.stdout.trim().split('\n')).toEqual(['listeners added 1', ...hooks]);
});
