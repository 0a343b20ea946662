/**
 * What every fault test ends with, counted: each message sent was received, nothing unknown was
 * received, duplicates only where the Contract allows them, and each (message, session) pair
 * received is in the exposure store exactly once. Failures report counts and a few examples.
 */
import { waitFor } from '@herald/testing';
import type { Device } from './devices';
import { pairKey, type ExposureStore } from './exposure-store';
import type { Producer } from './producer';

const EXAMPLES = 5;
const some = <T>(items: T[]) => items.slice(0, EXAMPLES);

export interface DeliveryTally {
  sent: number;
  /** Message frames received, duplicates included. */
  frames: number;
  /** Messages received again in a later session (allowed: they were not acknowledged). */
  redelivered: number;
}

/**
 * Waits until every device has received every id sent to its user, then checks: none missing,
 * none unknown (each accepted POST is one id: a retried send wrote nothing twice), none twice in
 * one session, and an id again in a later session only if it was still unacknowledged when that
 * session's connection was made.
 */
export async function expectEveryMessageDelivered(producer: Producer, devices: Device[], timeoutMs = 30_000): Promise<DeliveryTally> {
  const missingOf = (d: Device) => {
    const got = d.received();
    return (producer.sent.get(d.userId) ?? []).filter((id) => !got.has(id));
  };
  await waitFor(() => devices.every((d) => d.error || missingOf(d).length === 0), {
    timeoutMs,
    intervalMs: 100,
    what: 'every message sent to be received',
  }).catch(() => undefined); // the counts below say what is missing
  const missing = devices.flatMap((d) => missingOf(d).map((id) => `${d.userId}:${id}`));
  const unknown = devices.flatMap((d) => {
    const sent = new Set(producer.sent.get(d.userId) ?? []);
    return [...d.received()].filter((id) => !sent.has(id)).map((id) => `${d.userId}:${id}`);
  });
  const twiceInASession: string[] = [];
  const redeliveredAfterAck: string[] = [];
  let redelivered = 0;
  for (const d of devices) {
    const earlier = new Set<string>();
    for (const s of d.sessions) {
      const inSession = new Set<string>();
      for (const id of s.ids) {
        if (inSession.has(id)) twiceInASession.push(`${s.sessionId}:${id}`);
        inSession.add(id);
        if (!earlier.has(id)) continue;
        redelivered++;
        if (!s.inboxBefore?.has(id)) redeliveredAfterAck.push(`${d.userId}:${id} in ${s.sessionId}`);
      }
      for (const id of inSession) earlier.add(id);
    }
  }
  const errors = devices.filter((d) => d.error).map((d) => d.error!.message);
  const sent = producer.total(devices.map((d) => d.userId));
  expect({
    missing: { count: missing.length, of: sent, examples: some(missing) },
    unknown: some(unknown),
    twiceInASession: some(twiceInASession),
    redeliveredAfterAck: some(redeliveredAfterAck),
    deviceErrors: some(errors),
  }).toEqual({
    missing: { count: 0, of: sent, examples: [] },
    unknown: [],
    twiceInASession: [],
    redeliveredAfterAck: [],
    deviceErrors: [],
  });
  const frames = devices.reduce((n, d) => n + d.sessions.reduce((m, s) => m + s.ids.length, 0), 0);
  return { sent, frames, redelivered };
}

/** Every (message, session) pair the devices received. */
export function receivedPairs(devices: Device[]): Set<string> {
  return new Set(devices.flatMap((d) => d.sessions.flatMap((s) => s.ids.map((id) => pairKey(id, s.sessionId)))));
}

export interface ExposureCheck {
  /** Only the users whose id starts with this (the test's own). */
  userPrefix: string;
  /**
   * Sessions whose rows may include pairs the client never received: a frame recorded (written
   * ahead) and then lost with a SIGKILLed gateway. Only pairs of known sessions, of sent ids.
   */
  mayHaveUnreceived?: ReadonlySet<string>;
  timeoutMs?: number;
}

/**
 * Waits until the store has a row for every pair received, then checks each has exactly one and
 * no other pair of these users is stored (but for `mayHaveUnreceived` sessions). Returns the rows.
 */
export async function expectExposuresStoredOnce(
  store: ExposureStore,
  producer: Producer,
  devices: Device[],
  check: ExposureCheck,
): Promise<number> {
  const expected = receivedPairs(devices);
  const stored = await store.waitForPairs(expected, check.userPrefix, check.timeoutMs ?? 60_000);
  const missing = [...expected].filter((pair) => !stored.has(pair));
  const doubled = [...stored].filter(([, n]) => n > 1).map(([pair, n]) => `${pair} x${n}`);
  // The ids sent to the user of each known session.
  const sentTo = new Map<string, ReadonlySet<string>>(
    devices.flatMap((d) => {
      const ids = new Set(producer.sent.get(d.userId) ?? []);
      return d.sessions.map((s) => [s.sessionId, ids] as const);
    }),
  );
  const unexpected = [...stored.keys()].filter((pair) => {
    if (expected.has(pair)) return false;
    const [messageId, sessionId] = pair.split('/');
    return !(check.mayHaveUnreceived?.has(sessionId) && sentTo.get(sessionId)?.has(messageId));
  });
  expect({
    missing: { count: missing.length, of: expected.size, examples: some(missing) },
    doubled: some(doubled),
    unexpected: { count: unexpected.length, examples: some(unexpected) },
  }).toEqual({ missing: { count: 0, of: expected.size, examples: [] }, doubled: [], unexpected: { count: 0, examples: [] } });
  return [...stored.values()].reduce((a, b) => a + b, 0);
}
