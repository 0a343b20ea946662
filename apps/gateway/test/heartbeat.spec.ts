/**
 * The heartbeat round's slices (heartbeat.ts), on stand-in sessions: what a session does in a
 * round is lifecycle.spec.ts's, through real sockets.
 */
import { waitFor } from '@herald/testing';
import type { AbuseCooldowns } from '../src/door/cooldowns';
import type { Door } from '../src/door/door';
import { HEARTBEAT_SLICE, HubSweeps } from '../src/sessions/heartbeat';
import type { Hub } from '../src/sessions/hub';

it('goes HEARTBEAT_SLICE sessions a turn, skips those gone meanwhile, and cuts off those that did not answer', async () => {
  const count = HEARTBEAT_SLICE * 2 + 200;
  const stay = count - 100;
  const sessions = new Map<object, true>();
  const visited: number[] = [];
  const terminated: number[] = [];
  let firstTurn: number | undefined;
  for (let i = 0; i < count; i++) {
    const session = {
      heartbeat: () => {
        visited.push(i);
        // Microtasks run once the timer's callback is over: what the round did in its first turn.
        // Then the last 100 sessions leave, before the round reaches them.
        if (visited.length === 1) {
          queueMicrotask(() => {
            firstTurn = visited.length;
            for (const key of [...sessions.keys()].slice(stay)) sessions.delete(key);
          });
        }
        return i % 100 !== 0;
      },
      terminate: () => terminated.push(i),
    };
    sessions.set(session, true);
  }
  const hub = { all: () => sessions.keys() } as unknown as Hub;
  const sweeps = new HubSweeps(hub, { tick() {} } as unknown as Door, { prune() {} } as unknown as AbuseCooldowns, 200);
  try {
    await waitFor(() => visited.length >= stay, { what: 'the round to reach the last session left' });
    expect(firstTurn).toBe(HEARTBEAT_SLICE);
    const firstRound = Array.from({ length: stay }, (_, i) => i);
    // Anything after is the next round, from the first session again.
    expect(visited.slice(0, stay + 1)).toEqual(visited.length > stay ? [...firstRound, 0] : firstRound);
    const cutOff = firstRound.filter((i) => i % 100 === 0);
    expect(terminated.slice(0, cutOff.length)).toEqual(cutOff);
  } finally {
    sweeps.stop();
  }
});
