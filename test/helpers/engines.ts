import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { describe } from 'vitest';
import { createKeyFile } from '../../src-server/keyfile.js';
import { tempDir } from './tmp.js';

/**
 * One suite, every engine (docs/design.md §7, docs/design.md §12.14): the server's integration suites run on SQLite always and on
 * PostgreSQL when scripts/pg-test-cluster.sh has started a cluster and exported LIFELINE_TEST_PG_URL (npm test does).
 */
export type Engine = 'sqlite' | 'postgres';

export const PG_SKIP_REASON =
  'PostgreSQL: skipped because LIFELINE_TEST_PG_URL is not set (npm test starts a throwaway cluster with scripts/pg-test-cluster.sh; ' +
  'run `eval "$(bash scripts/pg-test-cluster.sh start)"; export LIFELINE_TEST_PG_URL` to run these here)';

export function pgTestUrl(): string | undefined {
  return process.env.LIFELINE_TEST_PG_URL || undefined;
}

/** The engines available in this run: sqlite always, postgres when a test cluster is configured. */
export function availableEngines(): Engine[] {
  return pgTestUrl() ? ['sqlite', 'postgres'] : ['sqlite'];
}

let reasonPrinted = false;
function printSkipReason(): void {
  if (reasonPrinted) return;
  reasonPrinted = true;
  console.warn(`[engines] ${PG_SKIP_REASON}`);
}

/**
 * Declares the suite `body` once per engine, as `describe("<name> [sqlite]")` and `describe("<name> [postgres]")`.
 * Without a PostgreSQL cluster the postgres copy is declared skipped with the reason in its name and on stderr.
 */
export function forEachEngine(name: string, body: (engine: Engine) => void): void {
  for (const engine of ['sqlite', 'postgres'] as const) {
    if (engine === 'postgres' && !pgTestUrl()) {
      printSkipReason();
      describe.skip(`${name} [postgres] (${PG_SKIP_REASON})`, () => body(engine));
    } else {
      describe(`${name} [${engine}]`, () => body(engine));
    }
  }
}

/** Like forEachEngine, for suites that only make sense on PostgreSQL (several instances on one database). */
export function describePg(name: string, body: (url: string) => void): void {
  const url = pgTestUrl();
  if (url) describe(name, () => body(url));
  else {
    printSkipReason();
    describe.skip(`${name} (${PG_SKIP_REASON})`, () => body(''));
  }
}

export interface TestDatabase {
  /** URL of a fresh, empty database on the test cluster. */
  url: string;
  drop(): Promise<void>;
}

/** A fresh database per suite on the test cluster, dropped afterwards (its connections terminated first). */
export async function createTestDatabase(baseUrl = pgTestUrl()): Promise<TestDatabase> {
  if (!baseUrl) throw new Error(PG_SKIP_REASON);
  const name = `lifeline_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** What every instance of one PostgreSQL deployment shares: the database and the key file. */
export interface PgDeployment {
  databaseUrl: string;
  keyFile: string;
}

/**
 * A fresh database on the test cluster and a key file made beforehand, as `lifeline-server init` does (instances on
 * PostgreSQL never create one themselves). `cleanup` drops the database and removes the key file.
 */
export async function newPgDeployment(): Promise<PgDeployment & { cleanup: () => Promise<void> }> {
  const database = await createTestDatabase();
  const keys = tempDir('lifeline-keys-');
  const keyFile = path.join(keys.dir, 'lifeline.key');
  createKeyFile(keyFile);
  return {
    databaseUrl: database.url,
    keyFile,
    async cleanup() {
      await database.drop();
      keys.cleanup();
    },
  };
}

/**
 * The engine startTestServer uses when a test does not name one: LIFELINE_TEST_ENGINE=postgres runs every server
 * suite on PostgreSQL (npm test does both), anything else SQLite.
 */
export function defaultTestEngine(): Engine {
  if (process.env.LIFELINE_TEST_ENGINE !== 'postgres') return 'sqlite';
  if (!pgTestUrl()) throw new Error(`LIFELINE_TEST_ENGINE=postgres but ${PG_SKIP_REASON}`);
  return 'postgres';
}
