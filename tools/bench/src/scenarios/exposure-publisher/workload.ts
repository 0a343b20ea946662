/**
 * How N exposure events are made from messages and users: a message pushed to k connected users
 * is k events. Each user gets at most INBOX_CAP messages (ingest's default keeps the last 1000),
 * so an offline user's inbox holds all of them when it connects.
 */
export const MESSAGES_PER_USER_MAX = 1000;
/** Ingest's MAX_RECIPIENTS default: most users one message may name. */
export const RECIPIENTS_MAX = 1000;

export interface Workload {
  userIds: string[];
  /** Recipients of message j: the first `recipients[j]` users. Sums to the event count. */
  recipients: number[];
}

/** `minUsers` spreads the events over more users (fewer messages), e.g. to keep a POST rate low. */
export function planWorkload(events: number, userPrefix: string, minUsers = 1): Workload {
  const users = Math.min(events, Math.max(minUsers, Math.ceil(events / MESSAGES_PER_USER_MAX)), RECIPIENTS_MAX);
  const recipients: number[] = [];
  for (let left = events; left > 0; left -= users) recipients.push(Math.min(users, left));
  return { userIds: Array.from({ length: users }, (_, i) => `${userPrefix}${i}`), recipients };
}

/** Messages user i receives (for checking the clients). */
export function messagesFor(workload: Workload, userIndex: number): number {
  return workload.recipients.filter((k) => k > userIndex).length;
}
