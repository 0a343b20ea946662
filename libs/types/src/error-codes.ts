/**
 * Error codes of the HTTP APIs and of `error` frames (Contract), each with its HTTP status and
 * a sentence that tells the caller what to do. One table for every service.
 */
export const ErrorCodes = {
  // HTTP request errors
  BAD_REQUEST: { status: 400, message: 'The request is malformed; check it against the API docs at /docs.' },
  INVALID_BODY: { status: 400, message: 'The request body does not match the schema.' },
  INVALID_USER_ID: { status: 400, message: 'User ids are 1-128 characters of A-Z a-z 0-9 _ - . : @' },
  INVALID_CATEGORY: { status: 400, message: 'Category names are 1-64 characters of A-Z a-z 0-9 _ - . :' },
  INVALID_REPLACE_KEY: { status: 400, message: 'Replace keys are 1-64 characters of A-Z a-z 0-9 _ - . :' },
  INVALID_QUERY: { status: 400, message: 'A query parameter is invalid.' },
  INVALID_CURSOR: { status: 400, message: 'The cursor is not one this API returned; start again without it.' },
  INVALID_IDEMPOTENCY_KEY: { status: 400, message: 'Idempotency-Key must be 1-255 visible ASCII characters (no spaces).' },
  IDEMPOTENCY_KEY_REUSED: { status: 400, message: 'This Idempotency-Key was used with a different body; use a new key for a new message.' },
  INVALID_SEND_AT: { status: 400, message: 'sendAt must be an RFC 3339 date-time with a time zone (e.g. 2026-12-24T18:00:00Z), not in the past and at most SCHEDULE_MAX_AHEAD_SECONDS (30 days) ahead.' },
  INVALID_WEBHOOK_URL: { status: 400, message: 'A webhook URL must be an absolute https:// URL (http:// only for a host:port in WEBHOOK_ALLOWED_HOSTS), without credentials, whose host resolves.' },
  WEBHOOK_ADDRESS_FORBIDDEN: { status: 400, message: 'The webhook host is or resolves to a loopback, private, link-local, CGNAT, multicast or unspecified address; use a public address (or ask the operator to allow-list the host:port in WEBHOOK_ALLOWED_HOSTS).' },
  INVALID_WEBHOOK_KINDS: { status: 400, message: 'kinds must be 1 or more distinct event kinds: delivered, opened, clicked, dismissed, expired, dropped, sent, scheduled, updated, recalled.' },
  WEBHOOK_LIMIT_REACHED: { status: 409, message: 'This producer has as many webhook endpoints as WEBHOOK_MAX_PER_PRODUCER allows; delete one first.' },
  WEBHOOK_NOT_FOUND: { status: 404, message: 'No webhook endpoint of yours has this id.' },
  IDEMPOTENCY_KEY_IN_USE: { status: 409, message: 'A request with this Idempotency-Key is still running; retry it shortly with the same key.' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request head did not arrive in time.' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are too large (a token is at most 8 KB).' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The body is over the size limit.' },
  UNAUTHORIZED: { status: 401, message: 'A valid bearer token is required.' },
  FORBIDDEN: { status: 403, message: 'The token lacks the scope this route needs.' },
  NOT_FOUND: { status: 404, message: 'No such route.' },
  MESSAGE_NOT_FOUND: { status: 404, message: 'No message is known by this id (never sent, or expired).' },
  NOT_MESSAGE_OWNER: { status: 403, message: 'Only the producer that sent this message (token sub) or a token with the scope messages:admin may read or change it.' },
  FANOUT_NOT_FOUND: { status: 404, message: 'No fan-out is known for this message id (not a category message, or finished over a day ago).' },
  MESSAGE_STATE_CONFLICT: { status: 409, message: 'The message is not in a state that allows this change (see the message for which).' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'That method is not allowed on this route.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Send the body as application/json.' },
  NOT_READY: { status: 503, message: 'The service is starting or draining; retry shortly.' },
  AUTH_UNAVAILABLE: { status: 503, message: 'The keys that verify tokens cannot be fetched right now; retry shortly with the same token.' },
  OVERLOADED: { status: 503, message: 'Too many connections or connection attempts; retry later, with backoff.' },
  QUERY_TIMEOUT: { status: 503, message: 'The query ran past the analyst API time limit; narrow the time window or the filters, then retry.' },
  ANALYTICS_BUSY: { status: 503, message: 'Every analyst query connection is busy; retry shortly, with backoff.' },
  ORIGIN_NOT_ALLOWED: { status: 403, message: 'This Origin may not open a WebSocket here.' },
  INVALID_PUSH_SUBSCRIPTION: { status: 400, message: 'A push subscription is the browser\'s PushSubscription JSON: {"endpoint":"https://…","keys":{"p256dh":"<65-byte P-256 point, base64url>","auth":"<16 bytes, base64url>"}}.' },
  PUSH_ENDPOINT_REFUSED: { status: 400, message: 'The push endpoint must be an https URL of at most 2048 characters on a public address (not loopback, private, link-local or reserved).' },
  PUSH_SUBSCRIPTIONS_LIMIT: { status: 409, message: 'The user has as many push subscriptions as allowed (WEBPUSH_MAX_SUBSCRIPTIONS); delete one (DELETE /v1/push-subscriptions/{id}) first.' },
  PUSH_SUBSCRIPTION_NOT_FOUND: { status: 404, message: 'The user has no push subscription with this id.' },
  INVALID_NOTIFICATION: { status: 400, message: 'notification is {title, body, url?, icon?, tag?} within the field limits, and its push body (JSON with the message id) must fit in 3993 bytes.' },
  WEBPUSH_DISABLED: { status: 404, message: 'Web Push is off on this deployment (no VAPID keys configured).' },
  INTERNAL: { status: 500, message: 'Something went wrong on our side; it has been logged.' },
  // WebSocket `error` frame codes
  INVALID_JSON: { status: 400, message: 'Frames must be JSON text.' },
  UNKNOWN_FRAME: { status: 400, message: 'Unknown frame type; the client may send only ack and event frames (docs/PROTOCOL.md).' },
  INVALID_FRAME: { status: 400, message: 'The frame does not match its schema.' },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** The HTTP error body (Contract): `{"error":{"code":"…","message":"…"}}`. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

/** An error with a stable code; services turn it into the Contract's error body. */
export class HeraldError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message: string = ErrorCodes[code].message) {
    super(message);
    this.name = 'HeraldError';
    this.code = code;
    this.status = ErrorCodes[code].status;
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}
