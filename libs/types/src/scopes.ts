/** OAuth-style scopes carried in the `scope` claim of producer and analyst tokens (Contract). */
export const Scope = {
  MESSAGES_WRITE: 'messages:write',
  /** Read and change any producer's messages (GET, PATCH, DELETE /v1/messages/{id}), not only one's own. */
  MESSAGES_ADMIN: 'messages:admin',
  CATEGORIES_WRITE: 'categories:write',
  EXPOSURES_READ: 'exposures:read',
  /** `GET /v1/presence` on ingest: which users are connected, to which gateway, since when. */
  PRESENCE_READ: 'presence:read',
  /**
   * `POST/GET/DELETE /v1/webhooks` on ingest: an operator's scope. An endpoint receives the
   * matching events of the whole deployment, as `exposures:read` sees every exposure.
   */
  WEBHOOKS_WRITE: 'webhooks:write',
} as const;

export type Scope = (typeof Scope)[keyof typeof Scope];
