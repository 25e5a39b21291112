import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { NodeCryptoPlugin } from '@otplib/plugin-crypto-node';
import { generateSync } from 'otplib';
import pg from 'pg';
import { openDatabase, SQLITE_FILE } from '../../src-server/db/open.js';
import type { Db } from '../../src-server/db/port.js';
import { auditLogFor, KEY_FILE } from '../../src-server/bootstrap.js';
import { createKeyFile, loadKeyFile } from '../../src-server/keyfile.js';
import { createLogger } from '../../src-server/logger.js';
import { verifyAudit } from '../../src-server/services/audit-checkpoint.js';
import { createTestDatabase } from '../../test/helpers/engines.js';

/**
 * The servers of one login-storm configuration, as real child processes (`src-server/main.ts` through tsx): one
 * SQLite instance, or one or two instances on one PostgreSQL database sharing one key file (made beforehand, as
 * `lifeline-server init` does). Also the PostgreSQL cluster itself, and TOTP codes computed in process.
 */
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const otpCrypto = new NodeCryptoPlugin();

/** The TOTP code of `atMs` (RFC 6238 defaults: SHA-1, 6 digits, 30 s), with otplib's Node crypto. */
export function totp(secretBase32: string, atMs: number): string {
  return generateSync({ secret: secretBase32, crypto: otpCrypto, epoch: Math.floor(atMs / 1000) });
}

export type EngineConfig = { engine: 'sqlite'; instances: 1 } | { engine: 'postgres'; instances: 1 | 2 };

export interface Deployment {
  label: string;
  urls: string[];
  /** Direct access to the deployment's database, for the audit checks after a storm. */
  db: Db;
  /** The instances' error-level log since the last call, summarised: a count of HTTP 500s and the other lines. */
  takeServerErrors(): string[];
  /** The audit hash chain and checkpoints, verified as `lifeline-server audit verify` does (after sealing on PostgreSQL). */
  verifyAuditChain(): Promise<string[]>;
  close(): Promise<void>;
}

export const ADMIN_PASSWORD = 'storm-admin-password-0123456789';
export const ADMIN_TOTP = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

interface Instance {
  url: string;
  child: ChildProcess;
  /** Error-level lines of its log (pino level ≥ 50): "request failed" (an HTTP 500) counted, the others kept (up to 20). */
  errors: { requestFailed: number; other: string[] };
}

function startInstance(args: string[], env: Record<string, string>): Promise<Instance> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src-server/main.ts', '--port', '0', '--host', '127.0.0.1', ...args],
    {
      cwd: ROOT,
      // Request logging stays on (info), as in production; the lines are read and dropped.
      env: {
        ...process.env,
        LIFELINE_LOG_LEVEL: 'info',
        LIFELINE_ADMIN_PASSWORD: ADMIN_PASSWORD,
        LIFELINE_ADMIN_TOTP_SECRET: ADMIN_TOTP,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let seen = '';
  let listening = false;
  let errors = '';
  child.stderr!.on('data', (c: Buffer) => {
    errors = (errors + String(c)).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start within 90 s:\n${errors}`));
    }, 90_000);
    const onExit = (code: number | null, signal: string | null) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before listening:\n${errors}`));
    };
    child.once('exit', onExit);
    const logErrors = { requestFailed: 0, other: [] as string[] };
    let partial = '';
    child.stdout!.on('data', (c: Buffer) => {
      if (listening) {
        // The request log is read and dropped, but for its error lines.
        const lines = (partial + String(c)).split('\n');
        partial = lines.pop()!;
        for (const line of lines) {
          if (!/"level":(5|6)\d/.test(line)) continue;
          if (line.includes('"msg":"request failed"')) logErrors.requestFailed++;
          else if (logErrors.other.length < 20) logErrors.other.push(line.slice(0, 600));
        }
        return;
      }
      seen += String(c);
      const m = /Lifeline server: (http:\/\/\S+)/.exec(seen);
      if (m) {
        listening = true;
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve({ url: m[1]!, child, errors: logErrors });
      }
    });
  });
}

async function stopInstance(i: Instance): Promise<void> {
  if (i.child.exitCode !== null || i.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => i.child.once('exit', () => resolve()));
  i.child.kill('SIGTERM');
  const timer = setTimeout(() => i.child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

export async function startDeployment(config: EngineConfig, pgBaseUrl: string | undefined): Promise<Deployment> {
  const dirs = Array.from({ length: config.instances }, () => mkdtempSync(path.join(tmpdir(), 'lifeline-storm-')));
  const instances: Instance[] = [];
  let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  let db: Db | undefined;
  const close = async () => {
    await db?.close().catch(() => undefined);
    for (const i of instances) await stopInstance(i);
    await database?.drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  try {
    if (config.engine === 'sqlite') {
      instances.push(await startInstance(['--data', dirs[0]!], {}));
      db = (await openDatabase({ engine: 'sqlite', file: path.join(dirs[0]!, SQLITE_FILE) })).db;
    } else {
      if (!pgBaseUrl) throw new Error('no PostgreSQL cluster');
      database = await createTestDatabase(pgBaseUrl);
      createKeyFile(path.join(dirs[0]!, KEY_FILE));
      for (const d of dirs.slice(1)) copyFileSync(path.join(dirs[0]!, KEY_FILE), path.join(d, KEY_FILE));
      // One after the other: the first runs the migrations and creates the bootstrap admin.
      for (const d of dirs) instances.push(await startInstance(['--data', d, '--database', database.url], {}));
      db = (
        await openDatabase(
          { engine: 'postgres', url: database.url },
          { pg: { poolMax: 2, applicationName: 'lifeline-storm-check' } },
        )
      ).db;
    }
    const label =
      config.engine === 'sqlite'
        ? 'SQLite, 1 instance'
        : `PostgreSQL, ${config.instances} instance${config.instances > 1 ? 's' : ''}`;
    const takeServerErrors = () =>
      instances.flatMap((i, k) => {
        const out = [
          ...(i.errors.requestFailed
            ? [
                `instance ${k + 1}: ${i.errors.requestFailed} x "request failed" (HTTP 500; the log gives the error's type only)`,
              ]
            : []),
          ...i.errors.other.map((l) => `instance ${k + 1}: ${l}`),
        ];
        i.errors.requestFailed = 0;
        i.errors.other = [];
        return out;
      });
    const opened = db;
    const verifyAuditChain = async () => {
      try {
        const audit = auditLogFor(opened);
        await audit.waitUntilSealed(createLogger({ level: 'silent' }), 30_000);
        const report = await verifyAudit(opened, audit, loadKeyFile(path.join(dirs[0]!, KEY_FILE)).auditKeys, dirs[0]!);
        return report.ok
          ? []
          : [
              `audit chain: ${report.rows} rows, first bad row ${report.firstBadRowId}: ${report.problems.slice(0, 3).join('; ')}`,
            ];
      } catch (err) {
        return [`audit chain: ${err instanceof Error ? err.message : String(err)}`];
      }
    };
    return { label, urls: instances.map((i) => i.url), db, takeServerErrors, verifyAuditChain, close };
  } catch (err) {
    await close();
    throw err;
  }
}

export interface PgCluster {
  url: string;
  /** fsync and synchronous_commit as the cluster runs them (a throwaway test cluster may run without). */
  durability: string;
  stop(): Promise<void>;
}

/**
 * The PostgreSQL cluster: LIFELINE_TEST_PG_URL when set, else a throwaway durable one from scripts/pg-test-cluster.sh
 * (stopped afterwards); undefined, with the reason, when neither is possible.
 */
export async function startPgCluster(): Promise<{ cluster: PgCluster } | { skipped: string }> {
  let url = process.env.LIFELINE_TEST_PG_URL;
  let dir: string | undefined;
  if (!url) {
    try {
      const out = execFileSync('bash', ['scripts/pg-test-cluster.sh', 'start'], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, PG_TEST_DURABLE: '1' },
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      url = /LIFELINE_TEST_PG_URL=(\S+)/.exec(out)?.[1];
      dir = /LIFELINE_TEST_PG_DIR=(\S+)/.exec(out)?.[1];
    } catch (err) {
      return {
        skipped: `no PostgreSQL cluster could be started (scripts/pg-test-cluster.sh start failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}) and LIFELINE_TEST_PG_URL is not set`,
      };
    }
    if (!url || !dir) return { skipped: 'scripts/pg-test-cluster.sh start printed no URL' };
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const settings = await client.query<{ name: string; setting: string }>(
    "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'server_version') ORDER BY name",
  );
  await client.end();
  const durability = settings.rows.map((r) => `${r.name}=${r.setting}`).join(', ');
  const clusterDir = dir;
  return {
    cluster: {
      url,
      durability,
      async stop() {
        if (clusterDir)
          execFileSync('bash', ['scripts/pg-test-cluster.sh', 'stop', clusterDir], { cwd: ROOT, stdio: 'ignore' });
      },
    },
  };
}
