/** write-window.ts: at most one run per window, nothing asked for is left behind, 0 is per turn. */
import { waitFor } from '@herald/testing';
import { WriteWindow } from '../src/write-window';

const turn = () => new Promise(setImmediate);

it('runs at the next turn after a quiet spell, then at most once per window', async () => {
  let runs = 0;
  const window = new WriteWindow(1_000, () => runs++);
  window.schedule();
  window.schedule();
  expect(runs).toBe(0);
  await turn();
  expect(runs).toBe(1);
  // Asked for three times inside the window: one run, when the window has passed.
  for (let i = 0; i < 3; i++) {
    window.schedule();
    await turn();
  }
  expect(runs).toBe(1);
  await waitFor(() => runs === 2, { what: 'the second run' });
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(runs).toBe(2);
  window.close();
});

it('with a window of 0 runs once per turn', async () => {
  let runs = 0;
  const window = new WriteWindow(0, () => runs++);
  for (let i = 0; i < 3; i++) {
    window.schedule();
    window.schedule();
    await turn();
  }
  expect(runs).toBe(3);
  window.close();
});

it('flushNow() runs at once and close() cancels what was scheduled', async () => {
  let runs = 0;
  const window = new WriteWindow(1_000, () => runs++);
  window.schedule();
  window.flushNow();
  expect(runs).toBe(1);
  await turn();
  expect(runs).toBe(1);
  window.schedule();
  window.close();
  window.schedule();
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(runs).toBe(1);
});
