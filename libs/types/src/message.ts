/** A message as ingest stores it and gateways deliver it. */
export interface Message {
  id: string;
  category: string | null;
  payload: unknown;
  /** ISO-8601 time ingest accepted it. */
  createdAt: string;
  /** ISO-8601 time of its last update (PATCH /v1/messages/{id}); absent until updated. */
  updatedAt?: string;
  /** Epoch milliseconds after which it must never be delivered. */
  expiresAt: number;
}
