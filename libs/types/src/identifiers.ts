/**
 * What a user id and a category name may look like. They become parts of Redis keys and channel
 * names, so the charset is closed and the length bounded.
 */
export const USER_ID_PATTERN = /^[A-Za-z0-9_.:@-]{1,128}$/;
export const CATEGORY_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

export function isUserId(value: unknown): value is string {
  return typeof value === 'string' && USER_ID_PATTERN.test(value);
}

export function isCategory(value: unknown): value is string {
  return typeof value === 'string' && CATEGORY_PATTERN.test(value);
}

/**
 * A message's replace key: the rules of a category name (it becomes a field of Redis hashes and
 * a part of notes that `|` delimits, so the same closed charset, same bound).
 */
export const REPLACE_KEY_PATTERN = CATEGORY_PATTERN;

export function isReplaceKey(value: unknown): value is string {
  return typeof value === 'string' && REPLACE_KEY_PATTERN.test(value);
}

/** A message id in a path or a command line: ingest makes UUIDs; the rule only bounds what is asked for. */
export const MESSAGE_ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;

export function isMessageId(value: unknown): value is string {
  return typeof value === 'string' && MESSAGE_ID_PATTERN.test(value);
}
