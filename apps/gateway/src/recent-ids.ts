/**
 * The last ids a session wrote to its socket, newest overwriting oldest: an update or a recall of
 * one of them reaches the session as an `update` / `delete` frame (message-changes.ts). A ring of
 * at most `max` references to ids the messages already hold; none until the first push.
 */
export class RecentIds {
  private ids?: string[];
  private next = 0;

  constructor(private readonly max: number) {}

  add(id: string): void {
    if (this.max === 0) return;
    const ids = (this.ids ??= []);
    if (ids.length < this.max) ids.push(id);
    else ids[this.next] = id;
    this.next = (this.next + 1) % this.max;
  }

  has(id: string): boolean {
    return this.ids !== undefined && this.ids.includes(id);
  }
}
