import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { Db } from './port.js';
import { PG_LOCKS, PgDb, withPgAdvisoryLock } from './postgres.js';

/**
 * Frozen, numbered migrations, one folder per engine (`migrations/sqlite`, `migrations/postgres`): a landed file is
 * never edited; a change is a new file. Each file runs in its own transaction and is recorded in schema_migrations.
 */
const migrationsRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function loadMigrations(engine: Db['engine']): Migration[] {
  const dir = path.join(migrationsRoot, engine);
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({
      version: Number(f.slice(0, 3)),
      name: f.slice(4, -4),
      sql: readFileSync(path.join(dir, f), 'utf8'),
    }));
}

/** SQL split on `;` at line ends; migrations keep one statement per `;\n` (no procedural bodies). */
function statements(sql: string): string[] {
  return sql
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter(Boolean);
}

/**
 * Brings the schema up to date. On PostgreSQL several instances may start at once: an advisory lock lets one migrate
 * while the others wait, then find nothing left to do. (SQLite has one process per file.)
 */
export async function migrate(db: Db): Promise<number[]> {
  return db instanceof PgDb ? withPgAdvisoryLock(db, PG_LOCKS.migrate, () => applyPending(db)) : applyPending(db);
}

async function applyPending(db: Db): Promise<number[]> {
  await db.run(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
  );
  const applied = new Set(
    (await db.all<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => Number(r.version)),
  );
  const done: number[] = [];
  for (const m of loadMigrations(db.engine)) {
    if (applied.has(m.version)) continue;
    await db.tx(async (q) => {
      for (const stmt of statements(m.sql)) await q.run(stmt);
      await q.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
        m.version,
        m.name,
        Date.now(),
      ]);
    });
    done.push(m.version);
  }
  return done;
}
