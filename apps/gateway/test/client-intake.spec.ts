/**
 * Ack frames applied to a session (client-intake.ts): a frame of one id takes its own path (no
 * arrays on the way, as in a broadcast, where each client acknowledges each message as it comes),
 * and must come to what the same id in a longer frame comes to. The session is a stand-in holding
 * the real AckTracker, CategoryCursors and FrameBudget; what leaves it (inbox acks, positions, the
 * abuse close, the ignored ids' counts) is recorded.
 */
import type { Session } from '../src/sessions/session';
import { AckTracker } from '../src/acks/ack-tracker';
import { CategoryCursors } from '../src/acks/category-cursors';
import { FrameBudget } from '../src/frames/frame-budget';
import { receiveAckBytes, receiveFrame } from '../src/frames/client-intake';

const LIMITS = { maxFramesPerSecond: 1000, maxEventsPerSecond: 10, maxFrameErrors: 10, maxIgnoredAckIds: 3 };

function standIn() {
  const out = { inbox: [] as string[][], positions: [] as string[][], ignored: [] as Array<[string, number]>, abuse: 0, heard: 0 };
  const acks = new AckTracker(100);
  const cursors = new CategoryCursors(100, (category, entry) => out.positions.push([category, entry]));
  const session = {
    acks,
    budget: new FrameBudget(LIMITS),
    openedCategories: cursors,
    ctx: {
      onAck: (_: Session, ids: string[]) => out.inbox.push([...ids]),
      metrics: { acksIgnored: { inc: ({ reason }: { reason: string }, n: number) => out.ignored.push([reason, n]) } },
    },
    closeForAbuse: () => out.abuse++,
    heardFrom: () => out.heard++,
    gone: false,
    closed: false,
  };
  const ack = (...ids: string[]) => receiveFrame(session as unknown as Session, Buffer.from(JSON.stringify({ type: 'ack', ids })), false, false);
  return { acks, cursors, out, ack, session };
}

/** A direct message, two entries of `news` and one of a frozen category, pushed as a session pushes them. */
function pushAll(s: ReturnType<typeof standIn>) {
  s.acks.pushed('direct');
  s.cursors.start('news', '1-0');
  for (const [id, entry] of [['n1', '2-0'], ['n2', '3-0']]) {
    s.acks.pushed(id, 'news');
    s.cursors.pushed('news', entry, id);
  }
  // A category followed without a start (joined while connected): its entries' acks go to the inbox.
  s.acks.pushed('f1', 'joined');
  s.cursors.pushed('joined', '5-0', 'f1');
}

it('a frame of one id comes to what the same ids in one frame come to', () => {
  const one = standIn();
  const many = standIn();
  pushAll(one);
  pushAll(many);
  for (const id of ['n1', 'direct', 'f1', 'n2', 'nope', 'n1']) one.ack(id);
  many.ack('n1', 'direct', 'f1', 'n2', 'nope', 'n1');

  // Entries of `news` move its position, in order; the direct id and the frozen category's entry go
  // to the inbox's acks; the unknown id and the repeat are ignored and counted.
  expect(one.out.positions).toEqual([['news', '2-0'], ['news', '3-0']]);
  expect(many.out.positions).toEqual(one.out.positions);
  expect(one.out.inbox.flat()).toEqual(['direct', 'f1']);
  expect(many.out.inbox.flat()).toEqual(one.out.inbox.flat());
  // One frame counts its repeat as repeated; frames of one id each see it as unknown by then.
  expect(one.out.ignored).toEqual([['unknown', 1], ['unknown', 1]]);
  expect(many.out.ignored).toEqual([['unknown', 1], ['repeated', 1]]);
  expect([one.acks.size, many.acks.size]).toEqual([0, 0]);
  expect([one.out.abuse, many.out.abuse]).toEqual([0, 0]);
});

it('closes a session past WS_MAX_IGNORED_ACK_IDS with frames of one unknown id each', () => {
  const s = standIn();
  for (let i = 1; i <= LIMITS.maxIgnoredAckIds; i++) s.ack(`unknown-${i}`);
  expect(s.out.abuse).toBe(0);
  s.ack('one-too-many');
  expect(s.out.abuse).toBe(1);
  expect(s.out.ignored).toHaveLength(LIMITS.maxIgnoredAckIds + 1);
});

it('an id acked before its push (the inbox snapshot) is skipped by the drain, with a frame of one id', () => {
  const s = standIn();
  s.acks.expect(['early']);
  s.ack('early');
  expect(s.out.inbox).toEqual([['early']]);
  expect(s.acks.acknowledgedBeforePush('early')).toBe(true);
});

it('an ack of one id read in place (ws-read.ts) comes to what its frame comes to; every other frame is left to receiveFrame', () => {
  const framed = standIn();
  const inPlace = standIn();
  pushAll(framed);
  pushAll(inPlace);
  /** The frame's bytes at the start of a longer buffer (what follows is another frame's, or junk). */
  const readIn = (s: ReturnType<typeof standIn>, text: string) => {
    const bytes = Buffer.alloc(125, 0x41);
    bytes.write(text);
    return receiveAckBytes(s.session as unknown as Session, bytes, Buffer.byteLength(text));
  };
  for (const id of ['n1', 'direct', 'f1', 'n2', 'nope', 'n1']) {
    framed.ack(id);
    expect(readIn(inPlace, JSON.stringify({ type: 'ack', ids: [id] }))).toBe(true);
  }
  expect(inPlace.out.positions).toEqual([['news', '2-0'], ['news', '3-0']]);
  expect(inPlace.out.inbox).toEqual(framed.out.inbox);
  expect(inPlace.out.ignored).toEqual(framed.out.ignored);
  expect(inPlace.out.heard).toBe(6);
  expect(inPlace.acks.size).toBe(0);
  // Not an ack of one id as JSON.stringify writes it: not taken, nothing applied.
  const others = ['{"type":"ack","ids":["a","b"]}', '{"type":"event","id":"n1","kind":"opened"}', '{"type":"ack","ids":["\\u0041"]}', '{ "type":"ack","ids":["a"]}'];
  for (const text of others) expect(readIn(inPlace, text)).toBe(false);
  expect(inPlace.out.heard).toBe(6);
  // A session whose socket is gone takes nothing.
  inPlace.acks.pushed('late');
  inPlace.session.gone = true;
  expect(readIn(inPlace, JSON.stringify({ type: 'ack', ids: ['late'] }))).toBe(false);
  expect(inPlace.acks.size).toBe(1);
});
