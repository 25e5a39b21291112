import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { migrate } from '../../../src-server/db/migrate.js';
import { PgDb } from '../../../src-server/db/postgres.js';
import { createLogger } from '../../../src-server/logger.js';
import { insertUnsealedAudit } from '../../../src-server/db/queries/audit.js';
import { verifyAudit } from '../../../src-server/services/audit-checkpoint.js';
import type { NewAuditRow } from '../../../src-server/services/audit-log.js';
import {
  sealedAuditLog,
  sealRound,
  startAuditSealer,
  waitUntilAuditSealed,
} from '../../../src-server/services/audit-sealer.js';
import { createTestDatabase, describePg, type TestDatabase } from '../../helpers/engines.js';
import { tempDir } from '../../helpers/tmp.js';

const logLines: string[] = [];
const log = createLogger({
  level: 'debug',
  destination: new Writable({
    write(c, _e, cb) {
      logLines.push(String(c));
      cb();
    },
  }),
});

const row = (i: number, extra: Partial<NewAuditRow> = {}): NewAuditRow => ({
  at: 1_700_000_000_000 + i,
  type: 'test.event',
  outcome: 'info',
  actorKind: 'system',
  actor: null,
  subject: `user${i % 7}`,
  device: null,
  purpose: null,
  method: null,
  reason: null,
  details: JSON.stringify({ i }),
  ...extra,
});

async function chainOk(db: PgDb): Promise<{ ok: boolean; rows: number; problems: string[] }> {
  const tmp = tempDir('lifeline-seal-');
  try {
    return await verifyAudit(db, sealedAuditLog(db), [], tmp.dir); // no checkpoint file: the chain itself
  } finally {
    tmp.cleanup();
  }
}

/**
 * Polls until `cond` holds. The bound is generous (a loaded two-core CI machine schedules the sealer's 20-50 ms rounds
 * late); a sealer that never hands over still fails, just later.
 */
async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describePg('PostgreSQL audit sealer', () => {
  let database: TestDatabase;
  let a: PgDb;
  let b: PgDb;
  beforeAll(async () => {
    database = await createTestDatabase();
    a = new PgDb(database.url, { poolMax: 10 });
    b = new PgDb(database.url, { poolMax: 10 });
    await migrate(a);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await database?.drop();
  });

  it('does not seal past a row whose transaction is still open, then chains both in id order', async () => {
    const sealer = await a.connectDedicated();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let inserted!: () => void;
    const rowInserted = new Promise<void>((r) => (inserted = r));
    // A: takes the lower id and stays open. B: takes the next id and commits first.
    const slow = a.tx(async (q) => {
      await insertUnsealedAudit(q, row(1, { type: 'slow' }));
      inserted();
      await held;
    });
    await rowInserted;
    await b.tx((q) => insertUnsealedAudit(q, row(2, { type: 'fast' })));
    let roundDone = false;
    const round = sealRound(sealer, log).then((n) => ((roundDone = true), n));
    await new Promise((r) => setTimeout(r, 300));
    expect(roundDone).toBe(false); // waiting for A, not chaining B ahead of A's lower id
    expect(await a.get('SELECT COUNT(*) AS n FROM audit WHERE hash IS NOT NULL')).toEqual({ n: 0 });
    release();
    await slow;
    expect(await round).toBe(2);
    const rows = await a.all<{ type: string }>('SELECT type FROM audit ORDER BY id');
    expect(rows.map((r) => r.type)).toEqual(['slow', 'fast']);
    expect(await chainOk(a)).toMatchObject({ ok: true, rows: 2 });
    await sealer.end();
  });

  it('does not seal past an open transaction whose xid is newer than every finished one (beyond the snapshot xmax)', async () => {
    // fast takes its xid first; slow takes a later xid and the lower audit id; fast then appends and commits. No xid
    // newer than slow's has finished, so slow's xid is not in a snapshot's in-progress list (it is >= xmax).
    const sealer = await a.connectDedicated();
    const step = () => {
      let done!: () => void;
      const p = new Promise<void>((r) => (done = r));
      return { p, done };
    };
    const fastHasXid = step();
    const slowInserted = step();
    const releaseSlow = step();
    const fast = a.tx(async (q) => {
      await q.get('SELECT pg_current_xact_id() AS xid');
      fastHasXid.done();
      await slowInserted.p;
      await insertUnsealedAudit(q, row(11, { type: 'fast-newer-id' }));
    });
    const slow = b.tx(async (q) => {
      await fastHasXid.p;
      await insertUnsealedAudit(q, row(10, { type: 'slow-lower-id' }));
      slowInserted.done();
      await releaseSlow.p;
    });
    await fast;
    let roundDone = false;
    const round = sealRound(sealer, log).then((n) => ((roundDone = true), n));
    await new Promise((r) => setTimeout(r, 300));
    expect(roundDone).toBe(false);
    expect(await a.get("SELECT COUNT(*) AS n FROM audit WHERE type = 'fast-newer-id' AND hash IS NOT NULL")).toEqual({
      n: 0,
    });
    releaseSlow.done();
    await slow;
    expect(await round).toBeGreaterThanOrEqual(2);
    expect(await chainOk(a)).toMatchObject({ ok: true });
    await sealer.end();
  });

  it('is not held up by a long transaction of another database on the same cluster', async () => {
    const other = await createTestDatabase();
    const otherDb = new PgDb(other.url, { poolMax: 1 });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let writing!: () => void;
    const wrote = new Promise<void>((r) => (writing = r));
    const longTx = otherDb.tx(async (q) => {
      await q.run('CREATE TABLE busy (id BIGINT)'); // a write: the transaction has an xid, in every snapshot's xip
      writing();
      await held;
    });
    await wrote;
    const sealer = await a.connectDedicated();
    try {
      await a.tx((q) => insertUnsealedAudit(q, row(3, { type: 'beside-long-tx' })));
      const sealed = await Promise.race([
        sealRound(sealer, log),
        new Promise<string>((r) => setTimeout(() => r('waited'), 20_000)), // blocked would be forever: a loaded machine needs seconds
      ]);
      expect(sealed).toBe(1);
      expect(await chainOk(a)).toMatchObject({ ok: true });
    } finally {
      release();
      await longTx;
      await sealer.end();
      await otherDb.close();
      await other.drop();
    }
  });

  it('keeps one chain while two instances append 2,000 rows at once, some in rolled-back transactions', async () => {
    const before = (await a.get<{ n: number }>('SELECT COUNT(*) AS n FROM audit'))!.n;
    const sa = startAuditSealer(a, { log, idleMs: 20, standbyMs: 100 });
    const sb = startAuditSealer(b, { log, idleMs: 20, standbyMs: 100 });
    const append = (i: number) =>
      (i % 2 ? a : b)
        .tx(async (q) => {
          await insertUnsealedAudit(q, row(i));
          if (i % 10 === 3) throw new Error('rolled back'); // leaves a gap in ids, never in the chain
        })
        .catch((e: Error) => e.message);
    // Waves of 100 concurrent transactions (50 per instance): concurrency enough to interleave ids and commits, without
    // queueing thousands of requests for 20 pooled connections on a loaded machine.
    const results: (string | void)[] = [];
    for (let wave = 0; wave < 2000; wave += 100)
      results.push(...(await Promise.all(Array.from({ length: 100 }, (_, k) => append(wave + k)))));
    expect(results.filter((r) => r === 'rolled back')).toHaveLength(200);
    await waitUntilAuditSealed(a, log);
    expect([sa.isLeader, sb.isLeader].filter(Boolean)).toHaveLength(1);
    const report = await chainOk(a);
    expect(report.problems).toEqual([]);
    expect(report).toMatchObject({ ok: true, rows: before + 1800 });
    await sa.stop();
    await sb.stop();
  });

  it('hands the sealing over to a standby instance when the sealing one stops', async () => {
    const sa = startAuditSealer(a, { log, idleMs: 20, standbyMs: 50 });
    await until(() => sa.isLeader, 'the first sealer to take the lead');
    const sb = startAuditSealer(b, { log, idleMs: 20, standbyMs: 50 });
    await new Promise((r) => setTimeout(r, 150)); // a few standby rounds: the lock is held, so b stays standby
    expect(sb.isLeader).toBe(false);
    await sa.stop();
    await b.tx((q) => insertUnsealedAudit(q, row(5000)));
    await until(
      async () => Number((await b.get<{ n: number }>('SELECT COUNT(*) AS n FROM audit WHERE hash IS NULL'))!.n) === 0,
      'the standby to seal the new row',
    );
    expect(sb.isLeader).toBe(true);
    expect(await chainOk(b)).toMatchObject({ ok: true });
    await sb.stop();
  });

  it('seals a round of several batches without the false "below the chain head" alarm', async () => {
    const before = logLines.length;
    await a.tx(async (q) => {
      for (let i = 0; i < 12; i++) await insertUnsealedAudit(q, row(7000 + i, { type: 'multi-batch' }));
    });
    const sealer = await a.connectDedicated();
    try {
      expect(await sealRound(sealer, log, 5)).toBeGreaterThanOrEqual(12); // three batches of at most 5
    } finally {
      await sealer.end();
    }
    expect(logLines.slice(before).filter((l) => l.includes('below the chain head'))).toEqual([]);
    expect((await chainOk(a)).ok).toBe(true);
  });
});
