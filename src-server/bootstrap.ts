import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Clock } from './clock.js';
import type { ServerContext } from './context.js';
import { migrate } from './db/migrate.js';
import { SqliteDb } from './db/sqlite.js';
import { createKeyFile, loadKeyFile } from './keyfile.js';
import type { Logger } from './logger.js';

export interface OpenOptions {
  dataDir: string;
  clock: Clock;
  log: Logger;
  /** Where the key file lives; defaults to <dataDir>/lifeline.key. */
  keyFile?: string;
}

export const DB_FILE = 'lifeline.sqlite';
export const KEY_FILE = 'lifeline.key';

/**
 * Opens the embedded database and the key file. On a first start (no database yet) the key file is created; an
 * existing database without its key file is refused, since a new key would make every stored secret unreadable.
 */
export async function openContext(options: OpenOptions): Promise<ServerContext & { firstStart: boolean }> {
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const dbFile = path.join(options.dataDir, DB_FILE);
  const keyFile = options.keyFile ?? path.join(options.dataDir, KEY_FILE);
  const firstStart = !existsSync(dbFile);
  if (!existsSync(keyFile)) {
    if (!firstStart) {
      throw new Error(`the database ${dbFile} exists but the key file ${keyFile} does not; restore the key file (it cannot be recreated)`);
    }
    createKeyFile(keyFile, options.clock.now());
  }
  const keys = loadKeyFile(keyFile);
  const db = new SqliteDb(dbFile);
  await migrate(db);
  return { db, keys, clock: options.clock, log: options.log, dataDir: options.dataDir, firstStart };
}
