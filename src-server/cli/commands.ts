import Database from 'better-sqlite3';
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { randomToken } from '../../src-shared/crypto/random.js';
import { DB_FILE, KEY_FILE, openContext } from '../bootstrap.js';
import { systemClock } from '../clock.js';
import { createKeyFile } from '../keyfile.js';
import type { Logger } from '../logger.js';
import { createAdmin } from '../services/admins.js';
import { verifyAudit } from '../services/audit-checkpoint.js';
import type { ServerConfig } from './args.js';
import { runningServerPid } from './lock.js';

/** Operator commands. Each prints what it did and returns the process exit code. */

type Out = (s: string) => void;

export function initCommand(config: ServerConfig, now: number, out: Out): number {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(config.dataDir, KEY_FILE);
  if (existsSync(file)) {
    out(`The key file ${file} exists already; refusing to replace it (every stored secret depends on it).\n`);
    return 1;
  }
  createKeyFile(file, now);
  out(`Created ${file} (mode 0600). Back it up apart from the database; give the same file to every instance.\n`);
  return 0;
}

export async function adminCreateCommand(
  config: ServerConfig & { command: { kind: 'admin-create' } },
  log: Logger,
  out: Out,
): Promise<number> {
  const ctx = await openContext({
    dataDir: config.dataDir,
    clock: systemClock,
    log,
    pg: config.pg,
    ...(config.database ? { databaseUrl: config.database } : {}),
  });
  try {
    const password = randomToken(18);
    const made = await createAdmin(ctx, {
      username: config.command.username,
      password,
      roles: config.command.roles,
      actor: { kind: 'system', name: 'cli' },
    });
    out(
      `Admin ${made.username} created with roles ${config.command.roles.join(', ')}.\n  password:    ${password}\n  TOTP secret: ${made.totpSecret}\n  TOTP URI:    ${made.otpauthUri}\nHand these over securely; they are not shown again.\n`,
    );
    return 0;
  } finally {
    await ctx.db.close();
  }
}

export async function auditVerifyCommand(config: ServerConfig, log: Logger, out: Out): Promise<number> {
  const ctx = await openContext({
    dataDir: config.dataDir,
    clock: systemClock,
    log,
    pg: config.pg,
    ...(config.database ? { databaseUrl: config.database } : {}),
  });
  try {
    await ctx.audit.waitUntilSealed(log); // PostgreSQL chains rows just after they commit
    const report = await verifyAudit(ctx.db, ctx.audit, ctx.keys.auditKeys, config.dataDir);
    out(`Audit log: ${report.rows} rows, ${report.checkpoints} signed checkpoints.\n`);
    for (const p of report.problems) out(`  PROBLEM: ${p}\n`);
    out(
      report.ok
        ? 'OK: the chain is intact and reaches every checkpoint.\n'
        : `FAILED${report.firstBadRowId !== undefined ? `: first bad row ${report.firstBadRowId}` : ''}.\n`,
    );
    return report.ok ? 0 : 1;
  } finally {
    await ctx.db.close();
  }
}

function sqliteOnly(config: ServerConfig, what: string): string | undefined {
  if (config.database) return `${what} works on the embedded SQLite database; for PostgreSQL use pg_dump / pg_restore.`;
  return undefined;
}

/** better-sqlite3's online backup: consistent even while a server is writing. */
export async function backupCommand(config: ServerConfig & { command: { kind: 'backup' } }, out: Out): Promise<number> {
  const refusal = sqliteOnly(config, 'backup');
  if (refusal) return (out(refusal + '\n'), 2);
  const source = path.join(config.dataDir, DB_FILE);
  if (!existsSync(source)) return (out(`No database at ${source}.\n`), 1);
  if (existsSync(config.command.file)) return (out(`${config.command.file} exists; choose a new file name.\n`), 1);
  const db = new Database(source, { readonly: true, fileMustExist: true });
  try {
    await db.backup(config.command.file);
  } finally {
    db.close();
  }
  out(
    `Backed up ${source} to ${config.command.file}. The key file (${KEY_FILE}) is not in it: back it up separately and keep the two apart.\n`,
  );
  return 0;
}

/** Replaces the database with a backup; refused while a server holds the data folder, since it would keep the old file open. */
export async function restoreCommand(
  config: ServerConfig & { command: { kind: 'restore' } },
  now: number,
  out: Out,
): Promise<number> {
  const refusal = sqliteOnly(config, 'restore');
  if (refusal) return (out(refusal + '\n'), 2);
  const pid = runningServerPid(config.dataDir);
  if (pid !== undefined) return (out(`A Lifeline server (pid ${pid}) is using ${config.dataDir}; stop it first.\n`), 1);
  const from = config.command.file;
  if (!existsSync(from)) return (out(`No such file: ${from}\n`), 1);
  try {
    const probe = new Database(from, { readonly: true, fileMustExist: true });
    try {
      probe.prepare('SELECT COUNT(*) FROM schema_migrations').get();
    } finally {
      probe.close();
    }
  } catch {
    out(`${from} is not a Lifeline database backup.\n`);
    return 1;
  }
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const target = path.join(config.dataDir, DB_FILE);
  if (existsSync(target)) {
    const kept = `${target}.before-restore-${now}`;
    renameSync(target, kept);
    out(`The current database was kept as ${kept}.\n`);
  }
  // Stale WAL files belong to the old database and must not be replayed onto the restored one.
  rmSync(`${target}-wal`, { force: true });
  rmSync(`${target}-shm`, { force: true });
  copyFileSync(from, target);
  out(`Restored ${from} to ${target}. It needs the key file it was made with (${KEY_FILE}).\n`);
  return 0;
}
