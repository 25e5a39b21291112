import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations, migrate } from '../../../src-server/db/migrate.js';
import { chooseDatabase, openDatabase, redactUrl } from '../../../src-server/db/open.js';
import { PgDb } from '../../../src-server/db/postgres.js';
import { SqliteDb } from '../../../src-server/db/sqlite.js';
import { createTestDatabase, describePg, type TestDatabase } from '../../helpers/engines.js';
import { tempDir } from '../../helpers/tmp.js';

describe('PostgreSQL migrations mirror the SQLite ones', () => {
  it('has a postgres file for every sqlite migration, with the same number and name', () => {
    const names = (engine: 'sqlite' | 'postgres') => loadMigrations(engine).map((m) => `${m.version}_${m.name}`);
    expect(names('postgres')).toEqual(names('sqlite'));
  });
});

describe('engine selection', () => {
  it('uses SQLite in the data folder without a URL, PostgreSQL with one (the flag before the environment)', () => {
    expect(chooseDatabase({ dataDir: '/srv/lifeline' })).toEqual({
      engine: 'sqlite',
      file: path.join('/srv/lifeline', 'lifeline.sqlite'),
    });
    expect(chooseDatabase({ dataDir: '/d', envUrl: 'postgres://u@h/db' })).toEqual({
      engine: 'postgres',
      url: 'postgres://u@h/db',
    });
    expect(
      chooseDatabase({ dataDir: '/d', envUrl: 'postgres://u@h/env', databaseFlag: 'postgresql://u@h/flag' }),
    ).toEqual({
      engine: 'postgres',
      url: 'postgresql://u@h/flag',
    });
  });

  it('refuses a URL of another scheme without echoing its password', () => {
    expect(() => chooseDatabase({ dataDir: '/d', databaseFlag: 'mysql://u:hunter2@h/db' })).toThrow(/postgres:\/\//);
    expect(() => chooseDatabase({ dataDir: '/d', databaseFlag: 'mysql://u:hunter2@h/db' })).not.toThrow(/hunter2/);
    expect(redactUrl('postgres://u:hunter2@h:5432/db')).toBe('postgres://u:***@h:5432/db');
  });

  it('reports an unreachable PostgreSQL at open time, with the password redacted', async () => {
    const url = 'postgres://lifeline:s3cret-pw@127.0.0.1:1/lifeline';
    const err = (await openDatabase({ engine: 'postgres', url }, { pg: { connectionTimeoutMs: 2000 } }).then(
      () => new Error('opened an unreachable database'),
      (e: unknown) => e,
    )) as Error;
    expect(err.message).toMatch(/cannot reach PostgreSQL postgres:\/\/lifeline:\*\*\*@127\.0\.0\.1:1/);
    expect(err.message).not.toContain('s3cret-pw');
  });
});

describePg('PostgreSQL migrations', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => database?.drop());

  it('lets three instances starting at once migrate one database exactly once', async () => {
    const opened = await Promise.all([1, 2, 3].map(() => openDatabase({ engine: 'postgres', url: database.url })));
    expect(opened.map((o) => o.existed)).toEqual([false, false, false]);
    const applied = await Promise.all(opened.map((o) => migrate(o.db)));
    const all = applied.flat();
    expect(all.sort((a, b) => a - b)).toEqual(loadMigrations('postgres').map((m) => m.version));
    expect(applied.filter((a) => a.length > 0)).toHaveLength(1); // one did all the work, the others waited and found none
    const rows = await opened[0]!.db.all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(loadMigrations('postgres').map((m) => m.version));
    await Promise.all(opened.map((o) => o.db.close()));
    const again = await openDatabase({ engine: 'postgres', url: database.url });
    expect(again.existed).toBe(true);
    expect(await migrate(again.db)).toEqual([]);
    await again.db.close();
  });

  it('gives both engines the same tables and columns', async () => {
    const tmp = tempDir('lifeline-mig-');
    const lite = new SqliteDb(path.join(tmp.dir, 'x.sqlite'));
    await migrate(lite);
    const pgDb = new PgDb(database.url);
    try {
      const liteTables = await lite.all<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
      );
      const liteShape: Record<string, string[]> = {};
      for (const { name } of liteTables) {
        liteShape[name] = (
          await lite.all<{ name: string }>(`SELECT name FROM pragma_table_info('${name}') ORDER BY name`)
        ).map((c) => c.name);
      }
      const pgCols = await pgDb.all<{ table_name: string; column_name: string }>(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, column_name",
      );
      const pgShape: Record<string, string[]> = {};
      for (const c of pgCols) (pgShape[c.table_name] ??= []).push(c.column_name);
      expect(pgShape).toEqual(liteShape);
      // The rows the migrations seed (default policy, built-in roles) are the same too.
      for (const table of Object.keys(liteShape).filter((t) => t !== 'schema_migrations')) {
        const order = `ORDER BY ${liteShape[table]!.map((c) => `"${c}"`).join(', ')}`;
        expect(await pgDb.all(`SELECT * FROM ${table} ${order}`), table).toEqual(
          await lite.all(`SELECT * FROM ${table} ${order}`),
        );
      }
    } finally {
      await lite.close();
      await pgDb.close();
      tmp.cleanup();
    }
  });
});

describePg('test servers on PostgreSQL', () => {
  it('startTestServer runs on PostgreSQL when asked (or with LIFELINE_TEST_ENGINE=postgres), and a peer joins the same database', async () => {
    const { startTestServer } = await import('../../helpers/server.js');
    const first = await startTestServer({ engine: 'postgres' });
    const peer = await startTestServer({ join: first.deployment!, clock: first.clock });
    try {
      expect([first.ctx.db.engine, peer.ctx.db.engine]).toEqual(['postgres', 'postgres']);
      await first.ctx.db.run("INSERT INTO settings (key, value) VALUES ('probe', '1')");
      expect(await peer.ctx.db.get("SELECT value FROM settings WHERE key = 'probe'")).toEqual({ value: '1' });
      expect((await fetch(`${peer.url}/readyz`)).status).toBe(200);
    } finally {
      await peer.close();
      await first.close();
    }
    const saved = process.env.LIFELINE_TEST_ENGINE;
    process.env.LIFELINE_TEST_ENGINE = 'postgres';
    try {
      const s = await startTestServer();
      expect(s.ctx.db.engine).toBe('postgres');
      await s.close();
    } finally {
      if (saved === undefined) delete process.env.LIFELINE_TEST_ENGINE;
      else process.env.LIFELINE_TEST_ENGINE = saved;
    }
  });

  it('refuses to start an instance on PostgreSQL without the deployment key file', async () => {
    const { openContext } = await import('../../../src-server/bootstrap.js');
    const { createLogger } = await import('../../../src-server/logger.js');
    const { ManualClock } = await import('../../../src-server/clock.js');
    const database = await createTestDatabase();
    const tmp = tempDir('lifeline-nokey-');
    try {
      const opts = {
        dataDir: tmp.dir,
        clock: new ManualClock(0),
        log: createLogger({ level: 'silent' }),
        databaseUrl: database.url,
      };
      await expect(openContext(opts)).rejects.toThrow(/lifeline-server init/);
    } finally {
      tmp.cleanup();
      await database.drop();
    }
  });
});
