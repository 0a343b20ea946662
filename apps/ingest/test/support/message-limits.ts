/** The limits the POST /v1/messages specs run ingest with: small, so their edges are cheap to reach. */
export const MAX_RECIPIENTS = 3;
export const MAX_BODY_BYTES = 2048;

/**
 * ingest's config for those specs. No background worker: the refusal tests compare whole Redis
 * snapshots; the category tests run an ingest of their own that runs fan-out jobs.
 */
export const MESSAGES_ENV: Record<string, string> = {
  MAX_RECIPIENTS: String(MAX_RECIPIENTS),
  MAX_BODY_BYTES: String(MAX_BODY_BYTES),
  MESSAGE_MAX_TTL_SECONDS: '3600',
  MESSAGE_DEFAULT_TTL_SECONDS: '600',
};
