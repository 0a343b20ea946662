/**
 * A session's heartbeat (heartbeat.ts sweeps every session once a round): whether a ping awaits
 * its answer, and whether the client was heard from and written to since the last round.
 */
export class Liveness {
  private pinged = false;
  private heard = false;
  private spoke = false;

  /** The client answered a ping, or sent a frame: it is alive. */
  heardFrom(): void {
    this.heard = true;
  }

  /** A frame went to the client. */
  spokeTo(): void {
    this.spoke = true;
  }

  /**
   * One round: null when the client answered neither the previous ping nor with any frame since
   * (the caller cuts the socket off). Otherwise whether to ping it: not where frames went both
   * ways since the last round, since then each side has just seen the other, which is all a ping
   * and its pong would tell (the SDK counts any frame as the server's heartbeat).
   */
  round(): boolean | null {
    if (this.pinged && !this.heard) return null;
    this.pinged = !(this.heard && this.spoke);
    this.heard = this.spoke = false;
    return this.pinged;
  }
}
