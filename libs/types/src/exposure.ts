/** Exposure event (Contract): published to Pub/Sub topic `exposures` for every message pushed. */
export interface ExposureEvent {
  eventId: string;
  messageId: string;
  userId: string;
  category: string | null;
  sessionId: string;
  gatewayId: string;
  deliveredAt: string;
  via: 'offline' | 'live';
}
