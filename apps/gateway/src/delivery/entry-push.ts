/**
 * A category log entry pushed to a session, live (a broadcast's) or by its drain (read from the
 * log): pushed unless the session pushed or passed it already; an expired or recalled one is
 * passed, so the user's position may move past it as an ack would (acks/category-cursors.ts).
 */
import type { ExposureEvent } from '@herald/types';
import type { EncodedMessage } from '@herald/redis';
import type { Session } from '../sessions/session';

/** True when pushed; `written` is called at once when it is not. */
export function pushEntry(
  session: Session,
  message: EncodedMessage,
  category: string,
  entry: string,
  via: ExposureEvent['via'],
  now: number,
  written?: (err?: Error) => void,
): boolean {
  const cursors = session.categories;
  if (!cursors.fresh(category, entry)) {
    written?.();
    return false;
  }
  if (message.expiresAt <= now || session.ctx.changes.current(message) === null) {
    cursors.passed(category, entry);
    written?.();
    return false;
  }
  if (!session.push(message, via, now, written, category)) return false;
  cursors.pushed(category, entry, message.id);
  return true;
}
