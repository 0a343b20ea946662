/**
 * Which Pub/Sub publish errors are worth retrying soon. The client library puts the gRPC status
 * code on the error (`code`). A transient one (the service unreachable, overloaded, too slow) is
 * retried with a short backoff. A permanent one (the topic deleted, the gateway's credentials not
 * allowed to publish, a malformed request) will not heal without an operator: retrying it in a
 * loop only burns CPU and floods the log, so it pauses publishing for NON_RETRYABLE_PAUSE_MS and
 * then probes again, while events wait in memory and in the bounded spill.
 *
 * Herald does not recreate a topic that is NOT_FOUND: a topic created anew has no subscription,
 * so the consumer would still receive nothing, and an operator who deleted it meant something.
 */

/** gRPC status codes (google.rpc.Code) by number. */
const STATUS_NAMES: Record<number, string> = {
  1: 'CANCELLED',
  2: 'UNKNOWN',
  3: 'INVALID_ARGUMENT',
  4: 'DEADLINE_EXCEEDED',
  5: 'NOT_FOUND',
  6: 'ALREADY_EXISTS',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  9: 'FAILED_PRECONDITION',
  10: 'ABORTED',
  11: 'OUT_OF_RANGE',
  12: 'UNIMPLEMENTED',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
  15: 'DATA_LOSS',
  16: 'UNAUTHENTICATED',
};

/** The statuses that may pass by themselves (Google's own retry settings for Publish, plus CANCELLED/INTERNAL). */
const TRANSIENT = new Set(['CANCELLED', 'UNKNOWN', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED', 'ABORTED', 'INTERNAL', 'UNAVAILABLE']);

/** How long publishing pauses after a permanent error before it probes Pub/Sub again. */
export const NON_RETRYABLE_PAUSE_MS = 30_000;

export interface PublishErrorKind {
  /** The gRPC status name, or `OTHER` for an error without one (a network error: transient). */
  status: string;
  retryable: boolean;
}

export function classifyPublishError(err: unknown): PublishErrorKind {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  const status = typeof code === 'number' ? (STATUS_NAMES[code] ?? `CODE_${code}`) : 'OTHER';
  return { status, retryable: status === 'OTHER' || TRANSIENT.has(status) };
}
