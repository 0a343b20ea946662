/**
 * The last ids a session wrote to its socket, newest overwriting oldest, with each one's
 * category: an update or a recall of one of them reaches the session as an `update` / `delete`
 * frame (message-changes.ts), and an `event` frame for one of them names its category
 * (user-events.ts). A ring of at most `max` references to ids and names the messages already
 * hold; none until the first push.
 */
export class RecentIds {
  private ids?: string[];
  private categories?: Array<string | null>;
  private next = 0;

  constructor(private readonly max: number) {}

  add(id: string, category: string | null): void {
    if (this.max === 0) return;
    const ids = (this.ids ??= []);
    const categories = (this.categories ??= []);
    if (ids.length < this.max) {
      ids.push(id);
      categories.push(category);
    } else {
      ids[this.next] = id;
      categories[this.next] = category;
    }
    this.next = (this.next + 1) % this.max;
  }

  has(id: string): boolean {
    return this.ids !== undefined && this.ids.includes(id);
  }

  /** The category of a recent id (null: a direct message); undefined when the id is not recent. */
  categoryOf(id: string): string | null | undefined {
    const at = this.ids?.lastIndexOf(id) ?? -1;
    return at < 0 ? undefined : this.categories![at];
  }
}
