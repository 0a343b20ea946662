/**
 * The subset of google.pubsub.v1 message shapes the emulator reads or writes,
 * as produced/consumed by @grpc/proto-loader with `keepCase: false` (camelCase
 * fields), `longs: String` and `defaults: true`.
 */

export interface Timestamp {
  seconds: number | string;
  nanos: number;
}

export interface Duration {
  seconds: number | string;
  nanos: number;
}

export interface PubsubMessage {
  data: Buffer;
  attributes: Record<string, string>;
  messageId: string;
  publishTime: Timestamp | null;
  orderingKey: string;
}

export interface ReceivedMessage {
  ackId: string;
  message: PubsubMessage;
  deliveryAttempt: number;
}

export interface Topic {
  name: string;
  labels?: Record<string, string>;
  [field: string]: unknown;
}

export interface Subscription {
  name: string;
  topic: string;
  ackDeadlineSeconds: number;
  labels?: Record<string, string>;
  messageRetentionDuration?: Duration | null;
  [field: string]: unknown;
}

export interface PublishRequest {
  topic: string;
  messages: Array<Partial<PubsubMessage>>;
}

export interface PullRequest {
  subscription: string;
  returnImmediately: boolean;
  maxMessages: number;
}

export interface AcknowledgeRequest {
  subscription: string;
  ackIds: string[];
}

export interface ModifyAckDeadlineRequest {
  subscription: string;
  ackIds: string[];
  ackDeadlineSeconds: number;
}

export interface StreamingPullRequest {
  subscription: string;
  ackIds: string[];
  modifyDeadlineSeconds: number[];
  modifyDeadlineAckIds: string[];
  streamAckDeadlineSeconds: number;
  clientId: string;
  maxOutstandingMessages: number | string;
  maxOutstandingBytes: number | string;
}
