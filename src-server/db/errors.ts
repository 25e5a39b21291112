/**
 * Engine errors a caller may need to recognise, the same way on both engines. A unique index that refuses a row is
 * the backstop of every "exists already" check: under concurrency (two instances on PostgreSQL, where both checks
 * can pass before either insert commits) the index, not the check, is what answers.
 */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  // PostgreSQL: SQLSTATE 23505; better-sqlite3: SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY.
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * No pooled connection came free within the acquire wait: the instance is overloaded, not broken. Nothing of the
 * request ran in the database, so the client may send it again; the HTTP layer answers 503 with Retry-After.
 */
export class DatabaseBusyError extends Error {
  constructor(readonly retryAfterSeconds = 2) {
    super('no database connection came free in time');
    this.name = 'DatabaseBusyError';
  }
}
