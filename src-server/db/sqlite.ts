import { closeSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Db, Param, Queryable, Row } from './port.js';

/**
 * Creates a missing database file with mode 0600 before SQLite opens it (SQLite would make it 0644 under the usual
 * umask): the database holds code hashes and sealed seeds, and SQLite gives its -wal and -shm files the database
 * file's mode, so all three are the owner's only. An existing file is left as it is.
 */
function createOwnerOnly(file: string): void {
  try {
    closeSync(openSync(file, 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/**
 * better-sqlite3 behind the async port. One connection; a promise queue keeps a transaction's statements from
 * interleaving with other requests' statements (they would otherwise join the open transaction).
 */
export class SqliteDb implements Db {
  readonly engine = 'sqlite' as const;
  readonly raw: Database.Database;
  private queue: Promise<unknown> = Promise.resolve();
  private inTx = false;

  constructor(file: string) {
    createOwnerOnly(file);
    this.raw = new Database(file);
    this.raw.pragma('journal_mode = WAL');
    this.raw.pragma('synchronous = FULL'); // a burn or a lockout must survive a power cut once acknowledged
    this.raw.pragma('foreign_keys = ON');
    this.raw.pragma('busy_timeout = 5000');
  }

  private direct(): Queryable {
    const db = this.raw;
    const conv = (params: readonly Param[] = []) => params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));
    return {
      all: async <T = Row>(sql: string, params?: readonly Param[]) => db.prepare(sql).all(...conv(params)) as T[],
      get: async <T = Row>(sql: string, params?: readonly Param[]) =>
        db.prepare(sql).get(...conv(params)) as T | undefined,
      run: async (sql: string, params?: readonly Param[]) => ({
        changes: db.prepare(sql).run(...conv(params)).changes,
      }),
    };
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  all<T = Row>(sql: string, params?: readonly Param[]): Promise<T[]> {
    return this.inTx ? this.exclusive(() => this.direct().all<T>(sql, params)) : this.direct().all<T>(sql, params);
  }
  get<T = Row>(sql: string, params?: readonly Param[]): Promise<T | undefined> {
    return this.inTx ? this.exclusive(() => this.direct().get<T>(sql, params)) : this.direct().get<T>(sql, params);
  }
  run(sql: string, params?: readonly Param[]): Promise<{ changes: number }> {
    return this.inTx ? this.exclusive(() => this.direct().run(sql, params)) : this.direct().run(sql, params);
  }

  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      this.inTx = true;
      this.raw.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.direct());
        this.raw.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.raw.inTransaction) this.raw.exec('ROLLBACK');
        throw err;
      } finally {
        this.inTx = false;
      }
    });
  }

  /** No pool, so no connection to wait for: every statement queues on the one connection anyway. */
  patiently<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }

  async close(): Promise<void> {
    await this.queue;
    this.raw.close();
  }
}
