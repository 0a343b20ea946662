/** WebSocket frames (Contract). Text frames, JSON. */
import type { ErrorCode } from './error-codes';

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

export type ServerFrame = WelcomeFrame | MessageFrame | UpdateFrame | DeleteFrame | ErrorFrame;
export type ClientFrame = AckFrame;
