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
  id: string;
  category: string | null;
  payload: unknown;
  createdAt: string;
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

export type ServerFrame = WelcomeFrame | MessageFrame | ErrorFrame;
export type ClientFrame = AckFrame;
