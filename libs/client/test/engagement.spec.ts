/**
 * The engagement event queue, checked directly: each (message, kind) once, held while no
 * connection can take frames, frames within the gateway's limits, a bad action refused.
 */
import { MAX_EVENT_IDS } from '@herald/types';
import { deliveredMessage, eventFrames, EventQueue } from '../src/engagement';
import { HeraldClientError } from '../src/errors';
import { FrameSink } from './support/frame-sink';


const opts = { capacity: 100, intervalMs: 60_000, maxFrameBytes: 16_384 };

it('reports each (message, kind) once, grouped in frames by kind and action', () => {
  const sink = new FrameSink();
  const queue = new EventQueue(opts, () => sink);
  expect(queue.add('m1', 'opened')).toBe(true);
  expect(queue.add('m1', 'opened')).toBe(false);
  queue.add('m2', 'opened');
  queue.add('m1', 'clicked', 'cta');
  queue.add('m1', 'clicked', 'other');
  queue.add('m2', 'dismissed');
  queue.flush();
  expect(sink.parsed()).toEqual([
    { type: 'event', ids: ['m1', 'm2'], kind: 'opened' },
    { type: 'event', id: 'm1', kind: 'clicked', action: 'cta' },
    { type: 'event', id: 'm2', kind: 'dismissed' },
  ]);
  expect(queue.size).toBe(0);
  queue.add('m1', 'opened');
  queue.flush();
  expect(sink.frames).toHaveLength(3);
});

it('holds events while the connection cannot take frames, and sends them once it can', () => {
  const sink = new FrameSink(false, true);
  let connected: FrameSink | null = null;
  const queue = new EventQueue(opts, () => connected);
  queue.add('m1', 'opened');
  queue.flush();
  connected = sink;
  queue.flush();
  expect(sink.frames).toEqual([]);
  expect(queue.size).toBe(1);
  sink.welcomed = true;
  queue.flush();
  expect(sink.parsed()).toEqual([{ type: 'event', id: 'm1', kind: 'opened' }]);
});

it('splits batches at MAX_EVENT_IDS ids and at the frame size limit', () => {
  const ids = Array.from({ length: MAX_EVENT_IDS + 1 }, (_, i) => `m-${i}`);
  const events = ids.map((id) => ({ id, kind: 'opened' as const }));
  const byCount = eventFrames(events, 16_384).map((f) => JSON.parse(f) as { ids?: string[]; id?: string });
  expect(byCount.map((f) => f.ids?.length ?? 1)).toEqual([MAX_EVENT_IDS, 1]);
  const small = eventFrames(events, 200);
  expect(small.every((f) => f.length <= 200)).toBe(true);
  expect(small.flatMap((f) => (JSON.parse(f) as { ids?: string[]; id?: string }).ids ?? [(JSON.parse(f) as { id: string }).id])).toEqual(ids);
});

it('refuses an action outside the rule with INVALID_OPTION, and gives messages the methods off their members', () => {
  const sink = new FrameSink();
  const queue = new EventQueue(opts, () => sink);
  const frame = { type: 'message' as const, id: 'm1', category: null, payload: { a: 1 }, createdAt: new Date().toISOString() };
  const message = deliveredMessage(frame, queue);
  expect(() => message.clicked('two words')).toThrow(HeraldClientError);
  expect(() => message.clicked('x'.repeat(65))).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  expect(JSON.parse(JSON.stringify(message))).toEqual(frame);
  expect(Object.keys(message)).toEqual(Object.keys(frame));
  message.clicked('ok');
  message.dismissed();
  queue.flush();
  expect(sink.parsed()).toEqual([
    { type: 'event', id: 'm1', kind: 'clicked', action: 'ok' },
    { type: 'event', id: 'm1', kind: 'dismissed' },
  ]);
});
