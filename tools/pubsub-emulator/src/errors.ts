import { status as GrpcStatus } from '@grpc/grpc-js';

/**
 * Stable, machine-readable reasons for every error the emulator returns.
 * The gRPC status code is what clients branch on; the reason is embedded in
 * `details` (as `[REASON] message`) so logs and tests can match on it without
 * depending on free-form wording.
 */
export const ErrorReason = {
  InvalidName: 'INVALID_NAME',
  InvalidArgument: 'INVALID_ARGUMENT',
  TopicNotFound: 'TOPIC_NOT_FOUND',
  SubscriptionNotFound: 'SUBSCRIPTION_NOT_FOUND',
  TopicExists: 'TOPIC_ALREADY_EXISTS',
  SubscriptionExists: 'SUBSCRIPTION_ALREADY_EXISTS',
  ShuttingDown: 'SHUTTING_DOWN',
} as const;
export type ErrorReason = (typeof ErrorReason)[keyof typeof ErrorReason];

const STATUS_BY_REASON: Record<ErrorReason, GrpcStatus> = {
  INVALID_NAME: GrpcStatus.INVALID_ARGUMENT,
  INVALID_ARGUMENT: GrpcStatus.INVALID_ARGUMENT,
  TOPIC_NOT_FOUND: GrpcStatus.NOT_FOUND,
  SUBSCRIPTION_NOT_FOUND: GrpcStatus.NOT_FOUND,
  TOPIC_ALREADY_EXISTS: GrpcStatus.ALREADY_EXISTS,
  SUBSCRIPTION_ALREADY_EXISTS: GrpcStatus.ALREADY_EXISTS,
  SHUTTING_DOWN: GrpcStatus.UNAVAILABLE,
};

/**
 * An error that maps 1:1 onto a gRPC status. Shaped like grpc-js's
 * `ServiceError` (`code` + `details`) so it can be handed straight to a unary
 * callback or emitted on a stream.
 */
export class EmulatorError extends Error {
  readonly code: GrpcStatus;
  readonly details: string;

  constructor(
    readonly reason: ErrorReason,
    message: string,
  ) {
    super(`[${reason}] ${message}`);
    this.name = 'EmulatorError';
    this.code = STATUS_BY_REASON[reason];
    this.details = this.message;
  }
}

/** Converts anything thrown inside a handler into a gRPC-shaped error. */
export function toGrpcError(err: unknown): { code: GrpcStatus; details: string } {
  if (err instanceof EmulatorError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return { code: GrpcStatus.INTERNAL, details: message };
}
