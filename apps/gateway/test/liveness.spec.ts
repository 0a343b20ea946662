/**
 * A session's side of the ping/pong (liveness.ts): who is cut off, and when a ping is spared.
 */
import { Liveness } from '../src/sessions/liveness';

describe('Liveness', () => {
  it('pings a session it has heard nothing from, and cuts it off if the ping goes unanswered', () => {
    const live = new Liveness();
    expect(live.round()).toBe(true);
    expect(live.round()).toBeNull();
  });

  it('keeps a session that answered its ping, and pings it again', () => {
    const live = new Liveness();
    expect(live.round()).toBe(true);
    live.heardFrom();
    expect(live.round()).toBe(true);
    live.heardFrom();
    expect(live.round()).toBe(true);
  });

  it('spares the ping where frames went both ways since the last round', () => {
    const live = new Liveness();
    live.heardFrom();
    live.spokeTo();
    expect(live.round()).toBe(false);
    // Not pinged, so a quiet round after it is not an unanswered ping: this round pings.
    expect(live.round()).toBe(true);
    expect(live.round()).toBeNull();
  });

  it('pings when only the server spoke (frames one way tell nothing of the client)', () => {
    const live = new Liveness();
    live.spokeTo();
    expect(live.round()).toBe(true);
    live.spokeTo();
    expect(live.round()).toBeNull();
  });
});
