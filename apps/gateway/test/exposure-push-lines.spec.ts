/**
 * Exposures written from their parts (push-lines.ts): each line is exactly the event pushJson
 * makes for the same members (the Contract's ExposureEvent: exposure-event-json.spec.ts), the
 * run's `bytes` is exactly what it writes, and the ids are EventIds' own.
 */
import type { ExposureEvent } from '@herald/types';
import { exposureJson, idHead, messageJson, pushMiddle, sessionJson, sessionTail, type SessionMembers } from '../src/exposure/event-json';
import { EventIds } from '../src/exposure/event-ids';
import { batchBytes, PushRun, writeBatch } from '../src/exposure/push-lines';

type Push = Pick<ExposureEvent, 'messageId' | 'category' | 'deliveredAt' | 'via'>;

const SESSIONS: SessionMembers[] = [
  { userId: 'u-1', sessionId: 's-1', gatewayId: 'gw-1' },
  { userId: 'ü "quoted" \\ \u2028 user', sessionId: 's-2', gatewayId: 'gw-ä' },
];
const PUSHES: Push[] = [
  { messageId: 'm-1', category: 'news', deliveredAt: '2026-12-06T01:00:00.000Z', via: 'live' },
  { messageId: 'm-2', category: null, deliveredAt: '2026-12-06T01:00:00.001Z', via: 'offline' },
  { messageId: 'm-"3"', category: 'ñews', deliveredAt: '2026-12-06T01:00:00.001Z', via: 'live' },
];

/** The run's lines, written between two guard bytes that must stay as they were. */
function writeOut(run: PushRun): string[] {
  const buf = Buffer.alloc(run.bytes + 2, 0xff);
  const end = run.write(buf, 1);
  expect(end).toBe(1 + run.bytes);
  expect([buf[0], buf[end]]).toEqual([0xff, 0xff]);
  return buf.subarray(1, end).toString().split('\n');
}

it('writes each line exactly as exposureJson makes the event, ids as EventIds makes them', () => {
  const ids = new EventIds();
  const run = new PushRun(Buffer.from(idHead(ids.idPrefix)));
  const expected: string[] = [];
  const tails = SESSIONS.map((s) => Buffer.from(sessionTail(sessionJson(s))));
  for (const push of PUSHES) {
    const middle = Buffer.from(pushMiddle(push, messageJson(push)));
    SESSIONS.forEach((session, i) => {
      const counter = ids.take();
      run.add(counter, middle, tails[i]);
      const eventId = ids.idPrefix + counter.toString(16).padStart(12, '0');
      expected.push(exposureJson({ eventId, ...push }, sessionJson(session)));
    });
  }
  const lines = writeOut(run);
  expect(lines).toEqual(expected);
  expect(run.count).toBe(PUSHES.length * SESSIONS.length);
  // Each is the Contract's event; ids go on from those id() gives, in the same layout.
  const events = lines.map((l) => JSON.parse(l) as ExposureEvent);
  expect(events.map((e) => e.userId)).toEqual(PUSHES.flatMap(() => SESSIONS.map((s) => s.userId)));
  const next = ids.id();
  expect(next.slice(0, 24)).toBe(events[0].eventId.slice(0, 24));
  expect(parseInt(next.slice(24), 16)).toBe(parseInt(events.at(-1)!.eventId.slice(24), 16) + 1);
});

it('writes any counter below 2^48 as 12 hex digits', () => {
  const run = new PushRun(Buffer.from(idHead('p-')));
  const middle = Buffer.from(pushMiddle(PUSHES[0], messageJson(PUSHES[0])));
  const tail = Buffer.from(sessionTail(sessionJson(SESSIONS[0])));
  const counters = [0, 1, 0xabcdef, 2 ** 32 + 5, 2 ** 48 - 1];
  for (const c of counters) run.add(c, middle, tail);
  const ids = writeOut(run).map((l) => (JSON.parse(l) as ExposureEvent).eventId);
  expect(ids).toEqual(['p-000000000000', 'p-000000000001', 'p-000000abcdef', 'p-000100000005', 'p-ffffffffffff']);
});

it('an empty run writes nothing', () => {
  const run = new PushRun(Buffer.from(idHead('p-')));
  expect(run.bytes).toBe(0);
  expect(run.write(Buffer.alloc(0), 0)).toBe(0);
});

it("a batch's entries are written one per line: an event's JSON goes on as it is, a run as the view of its lines", () => {
  const run = new PushRun(Buffer.from(idHead('p-')));
  const tail = Buffer.from(sessionTail(sessionJson(SESSIONS[1])));
  for (const c of [1, 2]) run.add(c, Buffer.from(pushMiddle(PUSHES[c], messageJson(PUSHES[c]))), tail);
  const kinded = '{"kind":"opened","userId":"zoë"}';
  const entries = [kinded, run, '{"kind":"expired"}'];
  const data = Buffer.alloc(batchBytes(entries));
  const out = writeBatch(entries, data);
  const runText = writeOut(run).join('\n');
  expect(data.toString()).toBe([kinded, runText, '{"kind":"expired"}'].join('\n'));
  expect(out[0]).toBe(kinded);
  expect(Buffer.isBuffer(out[1]) && out[1].buffer === data.buffer).toBe(true);
  expect(out[1].toString()).toBe(runText);
  expect(out[2]).toBe('{"kind":"expired"}');
  expect(writeBatch([], Buffer.alloc(batchBytes([])))).toEqual([]);
});

it('a run filled again writes only its new lines, with its new head, whatever the first use left', () => {
  const run = new PushRun(Buffer.from(idHead('old-')));
  const middles = PUSHES.map((p) => Buffer.from(pushMiddle(p, messageJson(p))));
  const tail = Buffer.from(sessionTail(sessionJson(SESSIONS[0])));
  for (const c of [1, 2, 3]) run.add(c, middles[c - 1], tail);
  expect(writeOut(run)).toHaveLength(3);
  expect(run.reuse(Buffer.from(idHead('new-')))).toBe(run);
  expect([run.count, run.bytes]).toEqual([0, 0]);
  const other = Buffer.from(sessionTail(sessionJson(SESSIONS[1])));
  run.add(7, middles[2], other);
  run.add(8, middles[0], tail);
  const events = writeOut(run).map((l) => JSON.parse(l) as ExposureEvent);
  expect(events.map((e) => [e.eventId, e.messageId, e.userId])).toEqual([
    ['new-000000000007', 'm-"3"', SESSIONS[1].userId],
    ['new-000000000008', 'm-1', 'u-1'],
  ]);
  // Longer than its first use: the arrays grow again.
  for (let c = 0; c < 3; c++) run.add(c, middles[c], tail);
  expect(writeOut(run).map((l) => (JSON.parse(l) as ExposureEvent).eventId)).toEqual(['new-000000000007', 'new-000000000008', 'new-000000000000', 'new-000000000001', 'new-000000000002']);
});
