/**
 * The exposure event's JSON (the Contract's `ExposureEvent`, libs/types), written out member by
 * member: a push costs no JSON.stringify of a whole object. Each member has its writer in a table
 * checked against the type, so a member added to `ExposureEvent` does not compile until it has a
 * writer here. The writers are called one by one (a loop over the table costs twice as much per
 * push: its call site sees five functions); test/exposure-event-json.spec.ts checks that the
 * output holds exactly the members of the tables, so a writer left uncalled fails there.
 *
 * The members a session's events share (user, session, gateway) are serialized once per session
 * (sessionJson), those of a message (id, category) once per message (messageJson: a category
 * message goes to many sessions in a row); a push adds its own (pushJson, or exposureJson for all).
 */
import type { ExposureEvent } from '@herald/types';

/** The members every exposure event of one session shares. */
export type SessionMembers = Pick<ExposureEvent, 'userId' | 'sessionId' | 'gatewayId'>;
/** The members of one push. */
export type PushMembers = Omit<ExposureEvent, keyof SessionMembers>;
/** The members every exposure event of one message shares. */
export type MessageMembers = Pick<PushMembers, 'messageId' | 'category'>;

/** One writer per member of T (all of them, nothing else): `"name":value`. */
type Writers<T> = { readonly [K in keyof T]-?: (members: T) => string };

/** A string from outside (ids, names): escaped. */
const quoted = (value: string | null): string => JSON.stringify(value);

const SESSION_WRITERS = {
  userId: (m) => `"userId":${quoted(m.userId)}`,
  sessionId: (m) => `"sessionId":${quoted(m.sessionId)}`,
  gatewayId: (m) => `"gatewayId":${quoted(m.gatewayId)}`,
} as const satisfies Writers<SessionMembers>;

const PUSH_WRITERS = {
  // A UUID, an ISO-8601 time and a literal of the Contract never need escaping. The id's quote
  // is left open: the push's parts (push-lines.ts) write the id's counter after it, and
  // pushMiddle closes it.
  eventId: (m) => `"eventId":"${m.eventId}`,
  messageId: (m) => `"messageId":${quoted(m.messageId)}`,
  category: (m) => `"category":${quoted(m.category)}`,
  deliveredAt: (m) => `"deliveredAt":"${m.deliveredAt}"`,
  via: (m) => `"via":"${m.via}"`,
} as const satisfies Writers<PushMembers>;

/** The members each table writes (for the test that every one is written). */
export const WRITTEN_MEMBERS: ReadonlyArray<keyof ExposureEvent> = [
  ...(Object.keys(PUSH_WRITERS) as Array<keyof PushMembers>),
  ...(Object.keys(SESSION_WRITERS) as Array<keyof SessionMembers>),
];

/** A session's shared members, serialized once per session (what exposureJson takes). */
export function sessionJson(m: SessionMembers): string {
  const w = SESSION_WRITERS;
  return `${w.userId(m)},${w.sessionId(m)},${w.gatewayId(m)}`;
}

/** A message's shared members, serialized once per message (what pushJson takes). */
export function messageJson(m: MessageMembers): string {
  const w = PUSH_WRITERS;
  return `${w.messageId(m as PushMembers)},${w.category(m as PushMembers)}`;
}

/**
 * One exposure event's JSON from its own members, the message's (messageJson) and the session's
 * (sessionJson). `eventId` must be a UUID and `deliveredAt` an ISO-8601 time (written unescaped).
 * It is the parts the gateway's log writes (push-lines.ts) joined: the layout is written once.
 */
export function pushJson(p: Omit<PushMembers, keyof MessageMembers>, message: string, session: string): string {
  return idHead(p.eventId) + pushMiddle(p, message) + sessionTail(session);
}

/**
 * pushJson cut where the gateway's log writes it from parts (push-lines.ts): `idHead`
 * (`{"eventId":"` and the ids' prefix), the id's counter (12 hex digits), `pushMiddle` (the rest
 * of the push's and the message's members) and `sessionTail` (the session's, and the end).
 * test/exposure-push-lines.spec.ts checks the lines against exposureJson.
 */
export function idHead(prefix: string): string {
  return `{${PUSH_WRITERS.eventId({ eventId: prefix } as PushMembers)}`;
}

export function pushMiddle(p: Pick<PushMembers, 'deliveredAt' | 'via'>, message: string): string {
  const w = PUSH_WRITERS;
  return `",${message},${w.deliveredAt(p as PushMembers)},${w.via(p as PushMembers)},`;
}

export function sessionTail(session: string): string {
  return `${session}}`;
}

/** One exposure event's JSON: the push's members and the session's (from sessionJson). */
export function exposureJson(p: PushMembers, session: string): string {
  return pushJson(p, messageJson(p), session);
}
