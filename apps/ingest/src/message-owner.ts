/**
 * Who may read or change a message (GET, PATCH, DELETE /v1/messages/{id}): the producer that sent
 * it (its token's `sub`, kept in the record's `producer`), or a token with the scope
 * `messages:admin`. One check, so every route that reads or changes a message answers the same.
 */
import type { Principal } from '@herald/auth';
import type { MessageRecord } from '@herald/redis';
import { HeraldError, Scope } from '@herald/types';

/**
 * The record, when `principal` may act on it. Throws MESSAGE_NOT_FOUND (404) for no record (an
 * unknown or expired id) and NOT_MESSAGE_OWNER (403) for another producer's message. A record
 * without a producer (written by a tool, not through ingest) belongs to admins only.
 */
export function checkOwner(record: MessageRecord | null, principal: Principal | undefined): MessageRecord {
  if (record === null) throw new HeraldError('MESSAGE_NOT_FOUND');
  if (principal?.scopes.has(Scope.MESSAGES_ADMIN)) return record;
  if (principal === undefined || record.producer === '' || record.producer !== principal.userId) {
    throw new HeraldError('NOT_MESSAGE_OWNER');
  }
  return record;
}
