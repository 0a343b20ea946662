/** Who may read or change a message once it is accepted: the producer that sent it, or an admin. */
import type { Principal } from '@herald/auth';
import type { MessageRecord } from '@herald/redis';
import { HeraldError, Scope } from '@herald/types';

/**
 * The message's record, when `principal` may read or change it: its producer (the token `sub` it
 * was sent with) or a token with `messages:admin`. Unknown or expired: 404 MESSAGE_NOT_FOUND;
 * another producer's: 403 NOT_MESSAGE_OWNER.
 */
export function checkOwner(record: MessageRecord | null, principal: Principal | undefined): MessageRecord {
  if (!record) throw new HeraldError('MESSAGE_NOT_FOUND');
  if (principal?.scopes.has(Scope.MESSAGES_ADMIN)) return record;
  if (principal === undefined || record.producer !== principal.userId) throw new HeraldError('NOT_MESSAGE_OWNER');
  return record;
}
