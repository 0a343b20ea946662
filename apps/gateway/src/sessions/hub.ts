/**
 * The manager: which sessions are connected on this gateway, indexed by user and by category.
 * Pure bookkeeping; it sends nothing itself. It says when a category gets its first session here
 * and when it loses its last (the live router subscribes to the category's channel meanwhile).
 */
import type { Session } from './session';

export interface CategoryListener {
  opened(category: string): void;
  closed(category: string): void;
}

export class Hub {
  constructor(private readonly listener?: CategoryListener) {}

  private readonly byUser = new Map<string, Set<Session>>();
  private readonly byCategory = new Map<string, Set<Session>>();
  private readonly categoriesOf = new Map<Session, ReadonlySet<string>>();

  get size(): number {
    return this.categoriesOf.size;
  }

  /** Adds the session; returns true when it is the user's first session on this gateway. */
  add(session: Session): boolean {
    let sessions = this.byUser.get(session.userId);
    const first = !sessions;
    if (!sessions) this.byUser.set(session.userId, (sessions = new Set()));
    sessions.add(session);
    this.categoriesOf.set(session, EMPTY_CATEGORIES);
    return first;
  }

  /** Removes the session; returns true when the user has no session left here. Removing twice is a no-op. */
  remove(session: Session): boolean {
    if (!this.categoriesOf.has(session)) return false;
    this.setCategories(session, []);
    this.categoriesOf.delete(session);
    const sessions = this.byUser.get(session.userId);
    sessions?.delete(session);
    if (sessions && sessions.size === 0) {
      this.byUser.delete(session.userId);
      return true;
    }
    return false;
  }

  setCategories(session: Session, categories: Iterable<string>): void {
    const previous = this.categoriesOf.get(session);
    if (!previous) return;
    const named = [...categories];
    const next: ReadonlySet<string> = named.length === 0 ? EMPTY_CATEGORIES : new Set(named);
    for (const category of previous) {
      if (next.has(category)) continue;
      const members = this.byCategory.get(category);
      members?.delete(session);
      session.categories.drop(category);
      if (members?.size === 0) {
        this.byCategory.delete(category);
        this.listener?.closed(category);
      }
    }
    for (const category of next) {
      let members = this.byCategory.get(category);
      if (!members) {
        this.byCategory.set(category, (members = new Set()));
        this.listener?.opened(category);
      }
      members.add(session);
    }
    this.categoriesOf.set(session, next);
  }

  /**
   * Sets the categories of every session of the user, from a live notification; a connecting
   * session learns that its snapshot may be older than this.
   */
  setUserCategories(userId: string, categories: string[]): void {
    for (const session of this.sessionsOf(userId)) {
      session.noteCategories();
      this.setCategories(session, categories);
    }
  }

  sessionsOf(userId: string): ReadonlySet<Session> {
    return this.byUser.get(userId) ?? EMPTY;
  }

  sessionsIn(category: string): ReadonlySet<Session> {
    return this.byCategory.get(category) ?? EMPTY;
  }

  categoriesOfSession(session: Session): string[] {
    return [...(this.categoriesOf.get(session) ?? [])].sort();
  }

  all(): IterableIterator<Session> {
    return this.categoriesOf.keys();
  }

  /** The users with a session here. */
  users(): IterableIterator<string> {
    return this.byUser.keys();
  }
}

const EMPTY: ReadonlySet<Session> = new Set();
/** Most sessions have no category: they share this one empty set. */
const EMPTY_CATEGORIES: ReadonlySet<string> = new Set();
