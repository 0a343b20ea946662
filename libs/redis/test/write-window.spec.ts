/** write-window.ts: at most one run per window, nothing asked for is left behind, 0 is per turn. */
import { waitFor } from '@herald/testing';
import { WriteWindow } from '../src';

const turn = () => new Promise(setImmediate);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A window whose runs are counted. */
function counted(windowMs: number) {
  let runs = 0;
  return { window: new WriteWindow(windowMs, () => runs++), runs: () => runs };
}

it('runs at the next turn after a quiet spell, then at most once per window', async () => {
  const c = counted(1_000);
  c.window.schedule();
  c.window.schedule();
  expect(c.runs()).toBe(0);
  await turn();
  expect(c.runs()).toBe(1);
  // Asked for three times inside the window: one run, when the window has passed.
  for (let i = 0; i < 3; i++) {
    c.window.schedule();
    await turn();
  }
  expect(c.runs()).toBe(1);
  await waitFor(() => c.runs() === 2, { what: 'the second run' });
  await pause(50);
  expect(c.runs()).toBe(2);
  c.window.close();
});

it('with a window of 0 runs once per turn', async () => {
  const c = counted(0);
  for (let i = 0; i < 3; i++) {
    c.window.schedule();
    c.window.schedule();
    await turn();
  }
  expect(c.runs()).toBe(3);
  c.window.close();
});

it('flushNow() runs at once and close() cancels what was scheduled', async () => {
  const c = counted(1_000);
  c.window.schedule();
  c.window.flushNow();
  expect(c.runs()).toBe(1);
  // The run flushNow() took over does not happen as well.
  await turn();
  expect(c.runs()).toBe(1);
  // Nor does one asked for around close().
  c.window.schedule();
  c.window.close();
  c.window.schedule();
  await pause(50);
  expect(c.runs()).toBe(1);
});
