/** Why the database could not be opened, with a stable code and a message that says what to do. */
export type DatabaseErrorCode = 'EMBEDDED_PG_DIR_NOT_TRAVERSABLE' | 'EMBEDDED_PG_START_FAILED' | 'MIGRATION_FAILED';

export class DatabaseError extends Error {
  constructor(
    readonly code: DatabaseErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DatabaseError';
  }
}
