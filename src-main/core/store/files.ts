import { closeSync, existsSync, mkdirSync, openSync, renameSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { damaged, describe, StoreUnavailable } from './errors.js';
import { StoreBusy, StoreLock } from './lock.js';
import { migrate } from './migrations.js';

/** The store's files on disk: the SQLite file, its lock, and the set-aside folders a reset leaves for IT. */
export const STORE_FILE = 'agent-store.sqlite';
const SET_ASIDE_PREFIX = 'set-aside-';

export async function takeLock(file: string): Promise<StoreLock> {
  try {
    return await StoreLock.acquire(`${file}.lock`);
  } catch (err) {
    if (err instanceof StoreBusy) {
      throw new StoreUnavailable(
        'store_busy',
        `Offline mode is off: the offline store is in use by another agent core (process ${err.pid}) on this computer. Online sign-in still works; close the other agent and restart this one.`,
      );
    }
    throw damaged(`its lock file cannot be written (${describe(err)})`);
  }
}

export function prepareDir(dataDir: string): string {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw damaged(`its folder cannot be created (${describe(err)})`);
  }
  return path.join(dataDir, STORE_FILE);
}

/**
 * Opens (or creates) the SQLite file and proves it usable now rather than at the first burn: readable and intact
 * (quick_check finds a corrupt or truncated file) and writable (a read-only file or folder fails the probe write).
 */
export function openDatabase(file: string, existed: boolean): Database.Database {
  let db: Database.Database | undefined;
  try {
    // Created owner-only (SQLite gives the -wal and -shm files the same mode); the folder is 0700 as well.
    if (!existed) closeSync(openSync(file, 'wx', 0o600));
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL'); // a burn or a failure count is on disk before the agent answers
    if (existed) {
      const check = db.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error(`integrity check: ${String(check).slice(0, 120)}`);
    }
    migrate(db);
    db.prepare(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ).run('opened-at', String(Date.now()));
    return db;
  } catch (err) {
    db?.close();
    throw damaged(describe(err));
  }
}

/** Moves the store's files into `set-aside-<time>/` beside them; null when there was nothing to move. */
export function setAside(dataDir: string, at: number): string | null {
  const names = [STORE_FILE, `${STORE_FILE}-wal`, `${STORE_FILE}-shm`].filter((n) => existsSync(path.join(dataDir, n)));
  if (names.length === 0) return null;
  const folder = path.join(dataDir, `${SET_ASIDE_PREFIX}${new Date(at).toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(folder, { mode: 0o700 });
  for (const n of names) renameSync(path.join(dataDir, n), path.join(folder, n));
  return folder;
}
