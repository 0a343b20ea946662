/** A session's pushes waiting for the exposure log: let go oldest first, each once. */
import type { EncodedMessage } from '@herald/redis';
import { LoggedPushes } from '../src/delivery/logged-pushes';

const message = (id: string): EncodedMessage => ({ id, category: null, expiresAt: Infinity, frame: Buffer.from(id) });

/** Takes the oldest push and says what it was. */
function takeOne(pushes: LoggedPushes): string {
  let seen = '';
  const went = pushes.takeOldest(null, (m, via, written, category) => {
    seen = `${m.id}/${via}/${written === undefined ? '-' : 'cb'}/${category ?? '-'}`;
    return m.id !== 'gone';
  });
  return `${seen}:${went}`;
}

it('lets pushes go in the order they were recorded, each with its own via, callback and category', () => {
  const pushes = new LoggedPushes();
  pushes.add(message('a'), 'live', undefined, 'news');
  expect(pushes.length).toBe(1);
  expect(takeOne(pushes)).toBe('a/live/-/news:true');
  expect(pushes.length).toBe(0);
  // A drain's pushes wait together, a live one behind them.
  pushes.add(message('b'), 'offline', () => undefined, undefined);
  pushes.add(message('gone'), 'offline', undefined, 'sport');
  pushes.add(message('c'), 'live', undefined, undefined);
  expect(pushes.length).toBe(3);
  expect([takeOne(pushes), takeOne(pushes)]).toEqual(['b/offline/cb/-:true', 'gone/offline/-/sport:false']);
  pushes.add(message('d'), 'live', undefined, 'news');
  expect([takeOne(pushes), takeOne(pushes)]).toEqual(['c/live/-/-:true', 'd/live/-/news:true']);
  expect(pushes.length).toBe(0);
  expect(() => takeOne(pushes)).toThrow('no push waits');
});

it('keeps the order across many waiting at once (a long drain), recorded while others are let go', () => {
  const pushes = new LoggedPushes();
  const order: string[] = [];
  let next = 0;
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 150; i++) pushes.add(message(String(next++)), 'offline', undefined, undefined);
    for (let i = 0; i < 100; i++) pushes.takeOldest(null, (m) => order.push(m.id) > 0);
  }
  while (pushes.length > 0) pushes.takeOldest(null, (m) => order.push(m.id) > 0);
  expect(order).toEqual(Array.from({ length: next }, (_, i) => String(i)));
});
