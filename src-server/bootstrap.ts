import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Clock } from './clock.js';
import type { ServerContext } from './context.js';
import { migrate } from './db/migrate.js';
import { chooseDatabase, describeDatabase, openDatabase, SQLITE_FILE } from './db/open.js';
import type { Db } from './db/port.js';
import { PgDb, type PgOptions } from './db/postgres.js';
import { createKeyFile, loadKeyFile } from './keyfile.js';
import type { Logger } from './logger.js';
import { chainedOnInsertAuditLog } from './services/audit.js';
import type { AuditLog } from './services/audit-log.js';
import { sealedAuditLog } from './services/audit-sealer.js';

export interface OpenOptions {
  dataDir: string;
  clock: Clock;
  log: Logger;
  /** Where the key file lives; defaults to <dataDir>/lifeline.key. */
  keyFile?: string;
  /** PostgreSQL URL (ServerConfig.database: `--database` / LIFELINE_DATABASE_URL); without it, SQLite in dataDir. */
  databaseUrl?: string;
  /** PostgreSQL pool settings (ServerConfig.pg); what is not given comes from PG_DEFAULTS. */
  pg?: PgOptions;
}

export const DB_FILE = SQLITE_FILE;
export const KEY_FILE = 'lifeline.key';

/**
 * The audit log that goes with a database, chosen here only: SQLite chains each row as it is inserted; PostgreSQL,
 * with instances appending at once, inserts rows unchained for the sealer (started by the serve command) to chain.
 */
export function auditLogFor(db: Db): AuditLog {
  return db instanceof PgDb ? sealedAuditLog(db) : chainedOnInsertAuditLog;
}

/**
 * Opens the embedded database and the key file. On a first start (no database yet) the key file is created; an
 * existing database without its key file is refused, since a new key would make every stored secret unreadable.
 */
export async function openContext(options: OpenOptions): Promise<ServerContext & { firstStart: boolean }> {
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const keyFile = options.keyFile ?? path.join(options.dataDir, KEY_FILE);
  const choice = chooseDatabase({ databaseFlag: options.databaseUrl, dataDir: options.dataDir });
  const { db, existed } = await openDatabase(choice, {
    pg: options.pg ?? {},
    onPoolError: (err) => options.log.warn({ component: 'db', err: err.message }, 'database connection dropped'),
  });
  const firstStart = !existed;
  if (!existsSync(keyFile)) {
    // Several instances share one PostgreSQL database and must share one key file: none may invent its own.
    const refusal = !firstStart
      ? `the database ${describeDatabase(choice)} exists but the key file ${keyFile} does not; restore the key file (it cannot be recreated)`
      : db.engine === 'postgres'
        ? `the key file ${keyFile} does not exist; create it once with \`lifeline-server init\` and give the same file to every instance`
        : undefined;
    if (refusal) {
      await db.close();
      throw new Error(refusal);
    }
    createKeyFile(keyFile, options.clock.now());
  }
  const keys = loadKeyFile(keyFile);
  await migrate(db);
  return {
    db,
    audit: auditLogFor(db),
    keys,
    clock: options.clock,
    log: options.log,
    dataDir: options.dataDir,
    firstStart,
  };
}
