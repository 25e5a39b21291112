import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Db } from './port.js';
import { PgDb, type PgOptions } from './postgres.js';
import { SqliteDb } from './sqlite.js';

/**
 * Which engine a server runs on: PostgreSQL when a database URL is given (`--database postgres://…` or
 * LIFELINE_DATABASE_URL, the flag winning), else the embedded SQLite file in the data folder.
 */
export type DatabaseChoice = { engine: 'sqlite'; file: string } | { engine: 'postgres'; url: string };

export const SQLITE_FILE = 'lifeline.sqlite';

export function chooseDatabase(o: { databaseFlag?: string; envUrl?: string; dataDir: string }): DatabaseChoice {
  const url = o.databaseFlag || o.envUrl;
  if (!url) return { engine: 'sqlite', file: path.join(o.dataDir, SQLITE_FILE) };
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new Error(`the database URL must start with postgres:// or postgresql:// (got ${redactUrl(url)})`);
  }
  return { engine: 'postgres', url };
}

/** A database URL fit for logs and error messages: the password never appears. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}

export function describeDatabase(choice: DatabaseChoice): string {
  return choice.engine === 'sqlite' ? `SQLite ${choice.file}` : `PostgreSQL ${redactUrl(choice.url)}`;
}

export interface OpenedDatabase {
  db: Db;
  /** Whether the database held a Lifeline schema before this start (an existing file, or schema_migrations on PG). */
  existed: boolean;
}

/**
 * Opens (without migrating) the chosen database. A PostgreSQL that cannot be reached fails here, with the URL's
 * password redacted, rather than at the first request.
 */
export async function openDatabase(
  choice: DatabaseChoice,
  o: { pg?: PgOptions; onPoolError?: (err: Error) => void } = {},
): Promise<OpenedDatabase> {
  if (choice.engine === 'sqlite') {
    const existed = existsSync(choice.file);
    return { db: new SqliteDb(choice.file), existed };
  }
  const db = new PgDb(choice.url, o.pg, o.onPoolError);
  try {
    const row = await db.get<{ present: number }>("SELECT (to_regclass('schema_migrations') IS NOT NULL) AS present");
    return { db, existed: row?.present === 1 };
  } catch (err) {
    await db.close().catch(() => undefined);
    const reason = err instanceof Error ? err.message.replaceAll(choice.url, redactUrl(choice.url)) : String(err);
    throw new Error(`cannot reach ${describeDatabase(choice)}: ${reason}`, { cause: err });
  }
}
