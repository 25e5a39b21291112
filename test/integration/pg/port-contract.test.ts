import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUniqueViolation } from '../../../src-server/db/errors.js';
import type { Db } from '../../../src-server/db/port.js';
import { PgDb, toPgPlaceholders } from '../../../src-server/db/postgres.js';
import { SqliteDb } from '../../../src-server/db/sqlite.js';
import {
  createTestDatabase,
  describePg,
  forEachEngine,
  type Engine,
  type TestDatabase,
} from '../../helpers/engines.js';
import { tempDir } from '../../helpers/tmp.js';

/**
 * The data-access port's contract, on both engines: the guarded statements and unique indexes every service relies on
 * must give exactly one winner under real concurrency (on PostgreSQL: many pooled connections, READ COMMITTED).
 */
const blob = (engine: Engine) => (engine === 'postgres' ? 'BYTEA' : 'BLOB');

async function openDb(engine: Engine): Promise<{ db: Db; cleanup: () => Promise<void> }> {
  if (engine === 'sqlite') {
    const tmp = tempDir('lifeline-port-');
    const db = new SqliteDb(path.join(tmp.dir, 'port.sqlite'));
    return {
      db,
      cleanup: async () => {
        await db.close();
        tmp.cleanup();
      },
    };
  }
  const database: TestDatabase = await createTestDatabase();
  const db = new PgDb(database.url, { poolMax: 20 });
  return {
    db,
    cleanup: async () => {
      await db.close();
      await database.drop();
    },
  };
}

describe('? → $n placeholder conversion', () => {
  it('numbers parameters in order and leaves ? inside literals, identifiers and comments alone', () => {
    expect(toPgPlaceholders('SELECT a FROM t WHERE b = ? AND c = ?')).toBe('SELECT a FROM t WHERE b = $1 AND c = $2');
    expect(toPgPlaceholders(`SELECT '?', "q?" FROM t -- why?\nWHERE x = ? /* ? */ AND y = 'it''s ?' AND z = ?`)).toBe(
      `SELECT '?', "q?" FROM t -- why?\nWHERE x = $1 /* ? */ AND y = 'it''s ?' AND z = $2`,
    );
  });
});

forEachEngine('data-access port contract', (engine) => {
  let db: Db;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ db, cleanup } = await openDb(engine));
    await db.run(
      `CREATE TABLE codes (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, secret ${blob(engine)}, used_at BIGINT, revoked_at BIGINT, flag INTEGER NOT NULL DEFAULT 0)`,
    );
    await db.run(
      'CREATE UNIQUE INDEX codes_one_active ON codes (user_id) WHERE used_at IS NULL AND revoked_at IS NULL',
    );
    await db.run('CREATE TABLE tokens (user_id BIGINT PRIMARY KEY, last_step BIGINT NOT NULL)');
    await db.run('CREATE TABLE counters (key TEXT PRIMARY KEY, window_start BIGINT NOT NULL, count INTEGER NOT NULL)');
  });
  afterAll(async () => cleanup?.());

  it('returns BIGINT, COUNT and SUM as numbers, BLOBs as Buffers and booleans as 0/1', async () => {
    const at = Date.UTC(2026, 10, 23, 9, 0, 0);
    await db.run('INSERT INTO codes (id, user_id, secret, used_at, flag) VALUES (?, ?, ?, ?, ?)', [
      1,
      1,
      Buffer.from([0, 1, 254, 255]),
      at,
      true,
    ]);
    const row = await db.get<{ id: unknown; used_at: unknown; secret: unknown; flag: unknown }>(
      'SELECT id, used_at, secret, flag FROM codes WHERE id = ?',
      [1],
    );
    expect(row).toEqual({ id: 1, used_at: at, secret: Buffer.from([0, 1, 254, 255]), flag: 1 });
    const agg = await db.get<{ n: unknown; total: unknown; is_used: unknown }>(
      'SELECT COUNT(*) AS n, SUM(used_at) AS total, (used_at IS NOT NULL) AS is_used FROM codes WHERE id = ? GROUP BY used_at',
      [1],
    );
    expect(agg).toEqual({ n: 1, total: at, is_used: 1 });
    expect(await db.get('SELECT id FROM codes WHERE id = ?', [999])).toBeUndefined();
    expect(await db.run('DELETE FROM codes WHERE id = ?', [1])).toEqual({ changes: 1 });
  });

  it('consumes a single-use row exactly once when 100 guarded UPDATE … RETURNING race', async () => {
    await db.run('INSERT INTO codes (id, user_id) VALUES (?, ?)', [10, 10]);
    const attempts = Array.from({ length: 100 }, (_, i) =>
      db.tx((q) =>
        q.all<{ id: number }>('UPDATE codes SET used_at = ? WHERE id = ? AND used_at IS NULL RETURNING id', [
          1000 + i,
          10,
        ]),
      ),
    );
    const winners = (await Promise.all(attempts)).filter((rows) => rows.length === 1);
    expect(winners).toHaveLength(1);
    const row = await db.get<{ used_at: number }>('SELECT used_at FROM codes WHERE id = ?', [10]);
    expect(row!.used_at).toBeGreaterThanOrEqual(1000);
  });

  it('advances a token step once when 50 requests present the same step (WHERE last_step < ?)', async () => {
    await db.run('INSERT INTO tokens (user_id, last_step) VALUES (?, ?)', [1, -1]);
    const step = 59_000_000;
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        db.run('UPDATE tokens SET last_step = ? WHERE user_id = ? AND last_step < ?', [step, 1, step]),
      ),
    );
    expect(results.filter((r) => r.changes === 1)).toHaveLength(1);
    expect(
      await db.run('UPDATE tokens SET last_step = ? WHERE user_id = ? AND last_step < ?', [step - 1, 1, step - 1]),
    ).toEqual({ changes: 0 });
  });

  it('keeps a fixed-window limit of 6 when 30 guarded increments race', async () => {
    await db.run('INSERT INTO counters (key, window_start, count) VALUES (?, ?, ?)', ['codes:u1', 0, 0]);
    const results = await Promise.all(
      Array.from({ length: 30 }, () =>
        db.tx((q) =>
          q.run('UPDATE counters SET count = count + 1 WHERE key = ? AND window_start = ? AND count < ?', [
            'codes:u1',
            0,
            6,
          ]),
        ),
      ),
    );
    expect(results.filter((r) => r.changes === 1)).toHaveLength(6);
    expect(await db.get('SELECT count FROM counters WHERE key = ?', ['codes:u1'])).toEqual({ count: 6 });
  });

  it('lets one of 40 racing inserts win a partial unique index; ON CONFLICT DO NOTHING reports 0 changes to the rest', async () => {
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        db.tx((q) => q.run('INSERT INTO codes (id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING', [100 + i, 20])),
      ),
    );
    expect(results.filter((r) => r.changes === 1)).toHaveLength(1);
    // A revoked row no longer counts for the partial index, so a new active one can be inserted beside it.
    await db.run('UPDATE codes SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL', [5, 20]);
    expect(await db.run('INSERT INTO codes (id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING', [200, 20])).toEqual({
      changes: 1,
    });
    const refused = await db.run('INSERT INTO codes (id, user_id) VALUES (?, ?)', [201, 20]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isUniqueViolation(refused)).toBe(true); // the same test on both engines (app.ts answers it with 409)
    const duplicateKey = await db.run('INSERT INTO codes (id, user_id) VALUES (?, ?)', [200, 21]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isUniqueViolation(duplicateKey)).toBe(true);
    expect(isUniqueViolation(new Error('other'))).toBe(false);
  });

  it('rolls a transaction back when its callback throws, and the connection stays usable', async () => {
    await expect(
      db.tx(async (q) => {
        await q.run('INSERT INTO codes (id, user_id) VALUES (?, ?)', [300, 300]);
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(await db.get('SELECT id FROM codes WHERE id = ?', [300])).toBeUndefined();
    for (let i = 0; i < 30; i++) await expect(db.tx((q) => q.get('SELECT 1 AS one'))).resolves.toEqual({ one: 1 });
  });

  it('commits every statement of a transaction together', async () => {
    const n = await db.tx(async (q) => {
      await q.run('INSERT INTO codes (id, user_id) VALUES (?, ?)', [400, 400]);
      await q.run('UPDATE codes SET used_at = ? WHERE id = ?', [7, 400]);
      return (await q.get<{ n: number }>('SELECT COUNT(*) AS n FROM codes WHERE user_id = ?', [400]))!.n;
    });
    expect(n).toBe(1);
    expect(await db.get('SELECT used_at FROM codes WHERE id = ?', [400])).toEqual({ used_at: 7 });
  });

  it('serialises concurrent read-modify-write through a guarded UPDATE, not through the read', async () => {
    await db.run('INSERT INTO counters (key, window_start, count) VALUES (?, ?, ?)', ['failures:u2', 0, 0]);
    await Promise.all(
      Array.from({ length: 40 }, () => db.run('UPDATE counters SET count = count + 1 WHERE key = ?', ['failures:u2'])),
    );
    expect(await db.get('SELECT count FROM counters WHERE key = ?', ['failures:u2'])).toEqual({ count: 40 });
  });
});

describePg('PostgreSQL adapter specifics', () => {
  let database: TestDatabase;
  let db: PgDb;
  beforeAll(async () => {
    database = await createTestDatabase();
    db = new PgDb(database.url, { poolMax: 3 });
  });
  afterAll(async () => {
    await db?.close();
    await database?.drop();
  });

  it('refuses an int8 that would lose precision as a JavaScript number', async () => {
    await expect(db.get('SELECT 9007199254740993::bigint AS big')).rejects.toThrow(/does not fit/);
    expect(await db.get('SELECT 9007199254740991::bigint AS big')).toEqual({ big: Number.MAX_SAFE_INTEGER });
  });

  it('refuses a Queryable used after its transaction ended', async () => {
    let leaked: import('../../../src-server/db/port.js').Queryable | undefined;
    await db.tx(async (q) => {
      leaked = q;
    });
    await expect(leaked!.get('SELECT 1 AS one')).rejects.toThrow(/already ended/);
  });

  it('returns every connection to the pool after transactions that commit, throw or hit an SQL error', async () => {
    await db.run('CREATE TABLE t (id BIGINT PRIMARY KEY)');
    const outcomes = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) =>
        db.tx(async (q) => {
          await q.run('INSERT INTO t (id) VALUES (?)', [i % 10]); // duplicates fail with a unique violation
          if (i % 7 === 0) throw new Error('callback failure');
        }),
      ),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled').length).toBeGreaterThan(0);
    expect(db.pool.totalCount).toBeLessThanOrEqual(3);
    expect(db.pool.waitingCount).toBe(0);
    await expect(db.get('SELECT COUNT(*) AS n FROM t')).resolves.toEqual({ n: expect.any(Number) });
  });
});
