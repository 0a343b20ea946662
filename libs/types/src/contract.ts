/**
 * The numbers the Contract (DESIGN.md) fixes as defaults, and Herald's own default for the
 * longest TTL, defined once: the config schema's defaults, the write protocol's callers, the test
 * harnesses and the tools read them here. Plain numbers, no runtime dependency (the browser
 * client imports this package too).
 */

const DAY_SECONDS = 24 * 3600;

/** A message without `ttlSeconds` lives this long (Contract: 7 days; MESSAGE_DEFAULT_TTL_SECONDS). */
export const MESSAGE_DEFAULT_TTL_SECONDS = 7 * DAY_SECONDS;

/**
 * The longest `ttlSeconds` accepted, and an offline list's lifetime after its last write
 * (MESSAGE_MAX_TTL_SECONDS): 30 days. Herald's choice, not the Contract's.
 */
export const MESSAGE_MAX_TTL_DEFAULT_SECONDS = 30 * DAY_SECONDS;

/** Ids one user's offline list holds; overflow drops the oldest (Contract: 1000; INBOX_CAP). */
export const INBOX_DEFAULT_CAP = 1000;

/** How long an Idempotency-Key is remembered (Contract: 24 h; IDEMPOTENCY_TTL_SECONDS). */
export const IDEMPOTENCY_DEFAULT_TTL_SECONDS = DAY_SECONDS;

/** Most messages one `POST /v1/messages/batch` may carry. */
export const MAX_BATCH_MESSAGES = 500;
