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
