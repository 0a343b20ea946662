/** OAuth-style scopes carried in the `scope` claim of producer and analyst tokens (Contract). */
export const Scope = {
  MESSAGES_WRITE: 'messages:write',
  /** Read, update and recall any producer's messages (a producer may always its own). */
  MESSAGES_ADMIN: 'messages:admin',
  CATEGORIES_WRITE: 'categories:write',
  EXPOSURES_READ: 'exposures:read',
  /** `GET /v1/presence` on ingest: which users are connected, to which gateway, since when. */
  PRESENCE_READ: 'presence:read',
} as const;

export type Scope = (typeof Scope)[keyof typeof Scope];
