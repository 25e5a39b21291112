/**
 * The one data-access port. Every SQL statement of the server goes through it, written once with `?` placeholders
 * in the dialect both engines share (RETURNING, ON CONFLICT, integers for times in epoch milliseconds, 0/1 for
 * booleans). The SQLite adapter runs it on better-sqlite3; a PostgreSQL adapter maps `?` to `$n`.
 *
 * Rules that keep both engines correct under concurrency (docs/architecture.md):
 *  - consume with one guarded statement (`UPDATE … WHERE used_at IS NULL RETURNING …`), never read-then-write;
 *  - never do slow work (scrypt, network) inside `tx`: SQLite serialises all transactions on one connection.
 */
export type Row = Record<string, unknown>;
export type Param = string | number | bigint | boolean | null | Buffer;

export interface Queryable {
  all<T = Row>(sql: string, params?: readonly Param[]): Promise<T[]>;
  get<T = Row>(sql: string, params?: readonly Param[]): Promise<T | undefined>;
  run(sql: string, params?: readonly Param[]): Promise<{ changes: number }>;
}

export interface Db extends Queryable {
  readonly engine: 'sqlite' | 'postgres';
  /** The most connections this instance holds at once, where it has a pool (PostgreSQL); SQLite has one, serialised. */
  readonly connections?: number;
  /** Runs `fn` in one transaction; commits when it resolves, rolls back when it throws. */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` with waits for a database connection that never give up for lack of a free one. For work after a
   * commit the client cannot undo (a device login whose token step is spent must still get its bundle): elsewhere an
   * overloaded instance refuses with DatabaseBusyError before anything is written. SQLite has no pool: it just runs fn.
   */
  patiently<T>(fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
