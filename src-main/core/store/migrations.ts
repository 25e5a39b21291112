import type Database from 'better-sqlite3';

/**
 * The store's schema, one entry per version, never edited once released (add a new entry instead). Which version a
 * file is at lives in SQLite's user_version, so an older agent refuses a newer file rather than misreading it.
 *
 * Everything that matters is in `sealed` columns (AES-256-GCM under the store key, the row's identity as AAD so a
 * row cannot be moved to another user or window). The plain columns only index: an opaque user reference (an HMAC
 * of the username), the kind of verifier and its window or slot number.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE state (key TEXT PRIMARY KEY, sealed BLOB NOT NULL);
   CREATE TABLE users (user_ref TEXT PRIMARY KEY, sealed BLOB NOT NULL);
   CREATE TABLE verifiers (
     user_ref TEXT NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('token', 'slot', 'temporary')),
     position INTEGER NOT NULL,
     sealed BLOB NOT NULL,
     PRIMARY KEY (user_ref, kind, position)
   );
   CREATE TABLE outbox (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, sealed BLOB NOT NULL);`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION)
    throw new Error(`store schema ${current} is newer than this agent understands (${SCHEMA_VERSION})`);
  for (let v = current; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
