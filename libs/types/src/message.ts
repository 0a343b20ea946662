/** A message as ingest stores it and gateways deliver it. */
export interface Message {
  id: string;
  category: string | null;
  payload: unknown;
  /**
   * Per recipient, at most one pending message per replace key: a new message with the key takes
   * the place of the older one (docs/PROTOCOL.md, replace keys). Absent when none.
   */
  replaceKey?: string;
  /** ISO-8601 time ingest accepted it. */
  createdAt: string;
  /** ISO-8601 time of its last update (PATCH /v1/messages/{id}); absent until updated. */
  updatedAt?: string;
  /** Epoch milliseconds after which it must never be delivered. */
  expiresAt: number;
}
