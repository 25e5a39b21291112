import { existsSync } from 'node:fs';
import path from 'node:path';
import { KEY_FILE } from '../bootstrap.js';
import { migrate } from '../db/migrate.js';
import { describeDatabase, openDatabase, SQLITE_FILE } from '../db/open.js';
import type { Param, Queryable } from '../db/port.js';
import { PgDb } from '../db/postgres.js';
import { SqliteDb } from '../db/sqlite.js';
import { loadKeyFile } from '../keyfile.js';
import type { Logger } from '../logger.js';
import { countUnchainedAudit } from '../db/queries/audit.js';
import { verifyAudit } from '../services/audit-checkpoint.js';
import { sealedAuditLog } from '../services/audit-sealer.js';
import { runningServerPid } from './lock.js';

/**
 * `migrate-data --from DIR --to postgres://…`: moves an embedded deployment onto an empty PostgreSQL database.
 *
 * Everything is copied in ONE PostgreSQL transaction (a failure leaves the target empty), tables in foreign-key order,
 * ids kept, so the audit rows keep their ids and hashes and the chain, the signed checkpoints beside the SQLite file and
 * every reference stay valid. Afterwards the row counts of every table are compared and the audit chain is verified on
 * the target against the source's checkpoints. The key file is not touched: every instance on PostgreSQL uses
 * DIR/lifeline.key.
 */
export interface MigrateDataResult {
  ok: boolean;
  tables: { name: string; source: number; target: number }[];
  auditRows: number;
  problems: string[];
}

type Out = (s: string) => void;

const MAX_PARAMS = 30_000; // well below PostgreSQL's 65,535 bind parameters per statement

export async function migrateData(o: { from: string; to: string; log: Logger }): Promise<MigrateDataResult> {
  const file = path.join(o.from, SQLITE_FILE);
  const keyFile = path.join(o.from, KEY_FILE);
  if (!existsSync(file)) throw new Error(`no embedded database at ${file}`);
  if (!existsSync(keyFile)) throw new Error(`no key file at ${keyFile}: the data cannot be used without it`);
  const pid = runningServerPid(o.from);
  if (pid !== undefined)
    throw new Error(
      `a Lifeline server (pid ${pid}) is using ${o.from}; stop it first so nothing changes during the copy`,
    );
  const keys = loadKeyFile(keyFile);

  const source = new SqliteDb(file);
  const opened = await openDatabase({ engine: 'postgres', url: o.to });
  const target = opened.db as PgDb;
  try {
    await migrate(source); // the same schema version on both sides
    await migrate(target);
    const tables = await tablesInDependencyOrder(source);
    const targetTables = new Set(
      (
        await target.all<{ name: string }>(
          'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()',
        )
      ).map((r) => r.name),
    );
    for (const t of tables) {
      if (!targetTables.has(t)) throw new Error(`table ${t} of the SQLite database has no PostgreSQL counterpart`);
    }
    // Only what the migrations seed (default policy, built-in roles) may be there: no deployment has used it yet.
    for (const t of ['users', 'admins', 'audit']) {
      const n = await target.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t}`);
      if (n!.n > 0)
        throw new Error(
          `${describeDatabase({ engine: 'postgres', url: o.to })} is in use (table ${t} has rows); migrate into a new database`,
        );
    }

    await target.tx(async (q) => {
      // The seed rows the migrations inserted (default policy, built-in roles) are replaced by the source's own.
      for (const t of [...tables].reverse()) await q.run(`DELETE FROM ${t}`);
      for (const t of tables) {
        const copied = await copyTable(source, q, t);
        o.log.info({ component: 'migrate-data', table: t, rows: copied }, 'table copied');
      }
      for (const t of tables) await advanceSequence(q, t);
    });

    const counts: MigrateDataResult['tables'] = [];
    const problems: string[] = [];
    for (const t of tables) {
      const s = (await source.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t}`))!.n;
      const d = (await target.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t}`))!.n;
      counts.push({ name: t, source: s, target: d });
      if (s !== d) problems.push(`table ${t}: ${s} rows in SQLite but ${d} in PostgreSQL`);
    }
    const unsealed = await countUnchainedAudit(target);
    if (unsealed > 0) problems.push(`${unsealed} audit rows of the source were never chained`);
    const audit = await verifyAudit(target, sealedAuditLog(target), keys.auditKeys, o.from);
    problems.push(...audit.problems.map((p) => `audit on PostgreSQL: ${p}`));
    return { ok: problems.length === 0, tables: counts, auditRows: audit.rows, problems };
  } finally {
    await source.close();
    await target.close();
  }
}

/** Every table of the SQLite schema, parents before the tables that reference them. */
async function tablesInDependencyOrder(db: SqliteDb): Promise<string[]> {
  const names = (
    await db.all<{ name: string }>(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY name",
    )
  ).map((r) => r.name);
  const parents = new Map<string, string[]>();
  for (const n of names) {
    const fks = await db.all<{ table: string }>(`SELECT "table" FROM pragma_foreign_key_list('${n}')`);
    parents.set(
      n,
      fks.map((f) => f.table).filter((p) => p !== n),
    );
  }
  const ordered: string[] = [];
  const visit = (n: string, path: string[]) => {
    if (ordered.includes(n)) return;
    if (path.includes(n)) throw new Error(`foreign keys form a cycle: ${[...path, n].join(' → ')}`);
    for (const p of parents.get(n) ?? []) visit(p, [...path, n]);
    ordered.push(n);
  };
  for (const n of names) visit(n, []);
  return ordered;
}

async function copyTable(source: SqliteDb, q: Queryable, table: string): Promise<number> {
  const columns = (
    await source.all<{ name: string }>(`SELECT name FROM pragma_table_info('${table}') ORDER BY cid`)
  ).map((c) => c.name);
  const quoted = columns.map((c) => `"${c}"`).join(', ');
  const perBatch = Math.max(1, Math.min(1000, Math.floor(MAX_PARAMS / columns.length)));
  const rowPlaceholders = `(${columns.map(() => '?').join(', ')})`;
  let copied = 0;
  // rowid order: stable paging through the table without loading it whole.
  for (let offset = 0; ; offset += perBatch) {
    const rows = source.raw
      .prepare(`SELECT ${quoted} FROM ${table} ORDER BY rowid LIMIT ? OFFSET ?`)
      .raw()
      .all(perBatch, offset) as Param[][];
    if (rows.length === 0) return copied;
    await q.run(`INSERT INTO ${table} (${quoted}) VALUES ${rows.map(() => rowPlaceholders).join(', ')}`, rows.flat());
    copied += rows.length;
  }
}

/** A copied table with an id sequence continues after its highest id (rows were inserted with explicit ids). */
async function advanceSequence(q: Queryable, table: string): Promise<void> {
  // Checked first: asking for the sequence of a missing column is an error, and an error aborts the transaction.
  const hasId = await q.get(
    "SELECT 1 AS one FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? AND column_name = 'id'",
    [table],
  );
  if (!hasId) return;
  const seq = await q.get<{ seq: string | null }>("SELECT pg_get_serial_sequence(?, 'id') AS seq", [table]);
  if (!seq?.seq) return;
  await q.get(
    `SELECT setval(CAST(? AS regclass), GREATEST((SELECT MAX(id) FROM ${table}), 1), (SELECT MAX(id) FROM ${table}) IS NOT NULL)`,
    [seq.seq],
  );
}

/** The command's report: per-table counts and the audit check; exit code 0 only when everything matched. */
export async function migrateDataCommand(o: { from: string; to: string; log: Logger }, out: Out): Promise<number> {
  const r = await migrateData(o);
  for (const t of r.tables)
    out(`  ${t.name.padEnd(22)} ${String(t.source).padStart(9)} → ${String(t.target).padStart(9)}\n`);
  out(`Audit log on PostgreSQL: ${r.auditRows} rows, chain checked against the checkpoints in ${o.from}.\n`);
  for (const p of r.problems) out(`  PROBLEM: ${p}\n`);
  if (!r.ok) return (out('FAILED: the PostgreSQL copy does not match; do not switch over.\n'), 1);
  out(
    `OK. Start every instance with --database <the URL> and a data folder holding a copy of ${path.join(o.from, KEY_FILE)}.\n`,
  );
  return 0;
}
