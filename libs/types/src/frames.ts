/** WebSocket frames (Contract). Text frames, JSON. */
import type { ErrorCode } from './error-codes';
import type { EngagementKind } from './events';

/** Most ids one `ack` frame may carry (protocol). */
export const MAX_ACK_IDS = 1000;

export interface WelcomeFrame {
  type: 'welcome';
  sessionId: string;
  userId: string;
  categories: string[];
}

export interface MessageFrame {
  type: 'message';
  /**
   * On a live frame only: the id of the message with the same replace key that this one takes the
   * place of (the client shows this one instead and acknowledges that one).
   */
  replaces?: string;
  id: string;
  category: string | null;
  /** The message's replace key, when it was sent with one (omitted otherwise). */
  replaceKey?: string;
  payload: unknown;
  /** Set once the message was updated after it was sent (its payload is the newest). */
  updatedAt?: string;
  /** Always the frame's last member (gateways read the send time from the end of the frame). */
  createdAt: string;
}

/** A message this session received was updated (PATCH /v1/messages/{id}): show the new payload. */
export interface UpdateFrame {
  type: 'update';
  id: string;
  payload: unknown;
  updatedAt: string;
}

/** A message this session received was recalled (DELETE /v1/messages/{id}): stop showing it. */
export interface DeleteFrame {
  type: 'delete';
  id: string;
}

export interface ErrorFrame {
  type: 'error';
  code: ErrorCode;
  message: string;
}

export interface AckFrame {
  type: 'ack';
  ids: string[];
}

/** Most ids one `event` frame may carry in its batch form (protocol). */
export const MAX_EVENT_IDS = 100;

/** What an `event` frame's `action` may look like: 1 to 64 of `A-Z a-z 0-9 _ - . :` (a replace key's rule). */
export const ENGAGEMENT_ACTION_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

export function isEngagementAction(value: unknown): value is string {
  return typeof value === 'string' && ENGAGEMENT_ACTION_PATTERN.test(value);
}

/**
 * The user engaged with a message it was delivered (issue 18): one id, or up to MAX_EVENT_IDS
 * (`ids`) of the same kind. `action` (clicked only) names what was clicked.
 */
export type EventFrame = {
  type: 'event';
  kind: EngagementKind;
  action?: string;
} & ({ id: string; ids?: never } | { ids: string[]; id?: never });

export type ServerFrame = WelcomeFrame | MessageFrame | UpdateFrame | DeleteFrame | ErrorFrame;
export type ClientFrame = AckFrame | EventFrame;
