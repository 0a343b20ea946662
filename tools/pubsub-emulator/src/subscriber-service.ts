import type * as grpc from '@grpc/grpc-js';
import { EmulatorError, ErrorReason, toGrpcError } from './errors';
import { parseProjectName } from './names';
import type { Consumer } from './consumer';
import { MAX_ACK_DEADLINE_SECONDS, MIN_ACK_DEADLINE_SECONDS } from './limits';
import type { Broker } from './state';
import type {
  AcknowledgeRequest,
  ModifyAckDeadlineRequest,
  PullRequest,
  ReceivedMessage,
  StreamingPullRequest,
  Subscription,
} from './types';
import { unary } from './unary';

/**
 * Longest a unary Pull with no messages waits before answering empty. Cloud
 * Pub/Sub holds such pulls open for a while; we cap it lower (and always below
 * the caller's own deadline) so polling loops stay responsive.
 */
export const PULL_MAX_WAIT_MS = 5_000;
/** Answer a waiting Pull this long before the caller's deadline so it gets a response, not DEADLINE_EXCEEDED. */
const PULL_DEADLINE_MARGIN_MS = 200;

function clampStreamDeadline(seconds: number, fallback: number): number {
  if (!seconds) return fallback;
  return Math.min(MAX_ACK_DEADLINE_SECONDS, Math.max(MIN_ACK_DEADLINE_SECONDS, seconds));
}

/** Applies the ack / modify-deadline parts of a StreamingPullRequest. */
function applyStreamingAcks(broker: Broker, subscription: string, req: StreamingPullRequest): void {
  if (req.ackIds.length > 0) broker.acknowledge(subscription, req.ackIds);
  const ids = req.modifyDeadlineAckIds;
  const seconds = req.modifyDeadlineSeconds;
  if (ids.length !== seconds.length) {
    throw new EmulatorError(
      ErrorReason.InvalidArgument,
      `modify_deadline_ack_ids (${ids.length}) and modify_deadline_seconds (${seconds.length}) differ in length`,
    );
  }
  ids.forEach((ackId, i) => broker.modifyAckDeadline(subscription, [ackId], seconds[i]));
}

/**
 * StreamingPull: the first request names the subscription and sets the lease
 * length and flow control; every request may carry acks and deadline changes.
 * When the stream ends for any reason its leases stay until their deadline (late acks still count), then what was not acked is redelivered.
 */
function streamingPull(broker: Broker): grpc.handleBidiStreamingCall<StreamingPullRequest, unknown> {
  return (call) => {
    let subscription = '';
    let consumer: Consumer | undefined;
    let finished = false;

    const release = (): void => {
      if (consumer) broker.detach(subscription, consumer);
    };
    const fail = (err: unknown): void => {
      if (finished) return;
      finished = true;
      release();
      call.emit('error', toGrpcError(err));
    };

    call.on('data', (req: StreamingPullRequest) => {
      if (finished) return;
      try {
        if (!consumer) {
          if (!req.subscription) {
            throw new EmulatorError(ErrorReason.InvalidArgument, 'The first StreamingPullRequest must set subscription');
          }
          const config = broker.getSubscription(req.subscription);
          subscription = req.subscription;
          applyStreamingAcks(broker, subscription, req);
          consumer = broker.attach(subscription, {
            ackDeadlineSeconds: clampStreamDeadline(req.streamAckDeadlineSeconds, config.ackDeadlineSeconds),
            maxOutstandingMessages: Number(req.maxOutstandingMessages) || 0,
            maxOutstandingBytes: Number(req.maxOutstandingBytes) || 0,
            oneShot: false,
            deliver: (receivedMessages: ReceivedMessage[]) => {
              if (!finished) call.write({ receivedMessages });
            },
            evict: fail,
          });
          return;
        }
        if (req.streamAckDeadlineSeconds) {
          consumer.options.ackDeadlineSeconds = clampStreamDeadline(
            req.streamAckDeadlineSeconds,
            consumer.options.ackDeadlineSeconds,
          );
        }
        applyStreamingAcks(broker, subscription, req);
      } catch (err) {
        fail(err);
      }
    });
    // Client half-closed: finish cleanly. Cancelled / errored: just clean up.
    call.on('end', () => {
      if (finished) return;
      finished = true;
      release();
      call.end();
    });
    call.on('cancelled', () => {
      finished = true;
      release();
    });
    call.on('error', () => {
      finished = true;
      release();
    });
  };
}

/** Unary Pull: answers at once if messages are ready, otherwise waits (bounded) for some. */
function pull(broker: Broker): grpc.handleUnaryCall<PullRequest, unknown> {
  return (call, callback) => {
    try {
      const { subscription, maxMessages, returnImmediately } = call.request;
      if (!(maxMessages > 0)) throw new EmulatorError(ErrorReason.InvalidArgument, 'max_messages must be positive');
      const ready = broker.pullNow(subscription, maxMessages);
      if (ready.length > 0 || returnImmediately) {
        callback(null, { receivedMessages: ready });
        return;
      }
      const callDeadline = Number(call.getDeadline());
      const expiresAt = Math.min(Date.now() + PULL_MAX_WAIT_MS, callDeadline - PULL_DEADLINE_MARGIN_MS);
      let answered = false;
      const answer = (err: unknown, messages: ReceivedMessage[] = []): void => {
        if (answered) return;
        answered = true;
        if (err) callback(toGrpcError(err));
        else callback(null, { receivedMessages: messages });
      };
      const waiter = broker.attach(subscription, {
        ackDeadlineSeconds: broker.getSubscription(subscription).ackDeadlineSeconds,
        maxOutstandingMessages: maxMessages,
        maxOutstandingBytes: 0,
        oneShot: true,
        expiresAt,
        deliver: (messages) => answer(null, messages),
        evict: (err) => answer(err),
      });
      call.on('cancelled', () => {
        answered = true;
        broker.detach(subscription, waiter);
      });
    } catch (err) {
      callback(toGrpcError(err));
    }
  };
}

/** google.pubsub.v1.Subscriber: subscription admin, acks, Pull and StreamingPull. */
export function subscriberService(broker: Broker): grpc.UntypedServiceImplementation {
  return {
    CreateSubscription: unary((req: Subscription) => broker.createSubscription(req)),
    GetSubscription: unary((req: { subscription: string }) => broker.getSubscription(req.subscription)),
    DeleteSubscription: unary((req: { subscription: string }) => {
      broker.deleteSubscription(req.subscription);
      return {};
    }),
    ListSubscriptions: unary((req: { project: string }) => ({
      subscriptions: broker.listSubscriptions(parseProjectName(req.project)),
      nextPageToken: '',
    })),
    Acknowledge: unary((req: AcknowledgeRequest) => {
      broker.acknowledge(req.subscription, req.ackIds);
      return {};
    }),
    ModifyAckDeadline: unary((req: ModifyAckDeadlineRequest) => {
      broker.modifyAckDeadline(req.subscription, req.ackIds, req.ackDeadlineSeconds);
      return {};
    }),
    Pull: pull(broker),
    StreamingPull: streamingPull(broker),
  };
}
