/** OAuth-style scopes carried in the `scope` claim of producer and analyst tokens (Contract). */
export const Scope = {
  MESSAGES_WRITE: 'messages:write',
  /** Read, update and recall any producer's messages (a producer may always its own). */
  MESSAGES_ADMIN: 'messages:admin',
  CATEGORIES_WRITE: 'categories:write',
  EXPOSURES_READ: 'exposures:read',
} as const;

export type Scope = (typeof Scope)[keyof typeof Scope];
