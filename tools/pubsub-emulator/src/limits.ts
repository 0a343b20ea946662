/** Cloud Pub/Sub's limits and defaults that the emulator enforces or reports. */
import { EmulatorError, ErrorReason } from './errors';

/** Pub/Sub's limit of messages per publish call. */
export const MAX_MESSAGES_PER_PUBLISH = 1000;
/** Cloud Pub/Sub's default ack deadline when a subscription does not set one. */
export const DEFAULT_ACK_DEADLINE_SECONDS = 10;
/** Cloud Pub/Sub's accepted ack-deadline range for subscriptions and streams. */
export const MIN_ACK_DEADLINE_SECONDS = 10;
export const MAX_ACK_DEADLINE_SECONDS = 600;
/** Default message retention reported by GetSubscription (7 days, like Cloud Pub/Sub). */
export const DEFAULT_RETENTION_SECONDS = 7 * 24 * 3600;
/** Topic name Cloud Pub/Sub reports on subscriptions whose topic was deleted. */
export const DELETED_TOPIC = '_deleted-topic_';
/** Most messages sent in one StreamingPullResponse / delivered in one go. */
export const MAX_BATCH_MESSAGES = 1000;

/** Rejects ack deadlines outside Cloud Pub/Sub's accepted range. */
export function assertAckDeadline(seconds: number): void {
  if (!Number.isInteger(seconds) || seconds < MIN_ACK_DEADLINE_SECONDS || seconds > MAX_ACK_DEADLINE_SECONDS) {
    throw new EmulatorError(
      ErrorReason.InvalidArgument,
      `ack deadline must be between ${MIN_ACK_DEADLINE_SECONDS} and ${MAX_ACK_DEADLINE_SECONDS} seconds, got ${seconds}`,
    );
  }
}
