/**
 * An idle app built by createHttpApp sleeps: the event-loop delay histogram behind
 * `nodejs_eventloop_lag_*` samples every EVENT_LOOP_SAMPLE_MS (100 ms), not every 10 ms
 * (prom-client's default, 100 wake-ups a second: ~5 ms of CPU a second on a 2-core VM). Counted
 * as the main thread's voluntary context switches (each a return from epoll_wait) over 2 s, read
 * from /proc: a count, not a time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const WINDOW_MS = 2000;

function voluntarySwitches(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^voluntary_ctxt_switches:\s+(\d+)$/m.exec(status)![1]);
}

let child: ChildProcess;

afterAll(() => {
  child?.kill();
});

it('an idle app wakes about ten times a second, not a hundred', async () => {
  child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'support', 'idle-app.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the app exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => line === 'ready' && resolve());
  });
  // Start-up work (module loading, the first collections) settles in its first second.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const before = voluntarySwitches(child.pid!);
  // The window is the measurement: wake-ups counted over 2 s of idling.
  await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
  const wakeups = voluntarySwitches(child.pid!) - before;
  process.stdout.write(`idle app: ${wakeups} wake-ups in ${WINDOW_MS} ms\n`);
  // 100 ms sampling: ~20 in the window. At 10 ms: ~200.
  expect(wakeups).toBeLessThan(60);
}, 30_000);
