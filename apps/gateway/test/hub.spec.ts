import { Hub } from '../src/sessions/hub';
import type { Session } from '../src/sessions/session';

/** Just what the hub touches: the user, the note that a live change set the categories, the categories left. */
const session = (userId: string) => {
  let noted = false;
  const left: string[] = [];
  return {
    userId,
    left,
    categories: { drop: (category: string) => left.push(category) },
    noteCategories: () => (noted = true),
    get categoriesNoted() {
      return noted;
    },
  } as unknown as Session;
};

describe('Hub', () => {
  it('indexes sessions by user and category and forgets them on removal', () => {
    const events: string[] = [];
    const hub = new Hub({ opened: (c) => events.push(`+${c}`), closed: (c) => events.push(`-${c}`) });
    const a1 = session('a');
    const a2 = session('a');
    expect(hub.add(a1)).toBe(true);
    expect(hub.add(a2)).toBe(false);
    hub.setCategories(a1, ['x', 'y']);
    hub.setCategories(a2, ['y']);
    expect([...hub.sessionsIn('y')]).toEqual([a1, a2]);
    hub.setUserCategories('a', ['z']);
    expect([a1, a2].map((s) => s.categoriesNoted)).toEqual([true, true]);
    expect(hub.sessionsIn('y').size).toBe(0);
    expect(hub.sessionsIn('z').size).toBe(2);
    expect(hub.remove(a1)).toBe(false);
    expect(hub.remove(a1)).toBe(false);
    expect(hub.remove(a2)).toBe(true);
    expect(hub.size).toBe(0);
    expect(hub.sessionsIn('z').size).toBe(0);
    expect(hub.sessionsOf('a').size).toBe(0);
    // A category opens with its first session here and closes with its last; sessions hear what they left.
    expect(events).toEqual(['+x', '+y', '-x', '+z', '-y', '-z']);
    expect((a1 as unknown as { left: string[] }).left).toEqual(['x', 'y', 'z']);
  });
});
