import type pg from 'pg';
import {
  chainAuditRows,
  countUnchainedAudit,
  highestAuditId,
  highestIssuedAuditId,
  insertUnsealedAudit,
  lowestUnchainedAuditId,
  newestChainedAudit,
  unchainedAuditRows,
} from '../db/queries/audit.js';
import { clientQueryable, PG_LOCKS, type PgDb } from '../db/postgres.js';
import type { Logger } from '../logger.js';
import { auditRowHash, GENESIS_HASH, type AuditLog } from './audit-log.js';

/**
 * The audit hash chain on PostgreSQL (docs/design.md §4). Several instances append audit rows at once, so a row cannot be
 * chained to "the last row" when it is inserted: that read-then-write would fork the chain under READ COMMITTED, and
 * a lock around it would serialise every verification of every instance. Instead rows are inserted with a NULL hash,
 * and ONE sealer (whichever instance holds a session advisory lock; the others stand by and take over if it dies)
 * chains committed rows in id order.
 *
 * Id order is safe only once no transaction can still commit a lower id. Every id up to the sequence's `last_value`
 * has been handed out; each appending transaction takes its transaction id before its audit id
 * (insertUnsealedAudit), so every transaction holding such an id has an xid by then, and once every transaction with
 * an xid in progress after that read has ended, ids up to it are final: committed and visible, or rolled back and
 * gone for good (a gap in ids, not in the chain).
 */
export function sealedAuditLog(db: PgDb): AuditLog {
  return {
    chaining: 'sealed-later',
    // Insert unsealed, in the caller's transaction.
    insert: (q, row) => insertUnsealedAudit(q, row),
    startSealing: (log) => startAuditSealer(db, { log }),
    waitUntilSealed: (log, timeoutMs) => waitUntilAuditSealed(db, log, timeoutMs),
  };
}

export interface SealerOptions {
  log: Logger;
  /** Pause between rounds when there was nothing to seal. */
  idleMs?: number;
  /** How often a standby instance tries to become the sealer. */
  standbyMs?: number;
  /** Rows chained per statement. */
  batch?: number;
}

const WAIT_POLL_MS = 5;
const WAIT_WARN_MS = 5_000;

const reportedBelowHead = new Set<number>();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One round on a connection that holds the sealer lock: chains every committed row up to the bound, in batches.
 * Returns the number of rows sealed.
 */
export async function sealRound(client: pg.Client, log: Logger, batch = 500): Promise<number> {
  const q = clientQueryable(client);
  const bound = await highestIssuedAuditId(q);
  const firstId = await lowestUnchainedAuditId(q);
  if (firstId === undefined || firstId > bound) return 0;

  // Wait for every transaction of this database that is in progress now: one may hold an id up to the bound, not yet
  // committed. Their xids are read from the live process array (pg_stat_activity), not from a snapshot, whose list
  // of running xids leaves out those above its xmax. Other databases on a shared cluster cannot write this table.
  const running = await client.query<{ xids: string[] | null }>(
    'SELECT array_agg(backend_xid::text) AS xids FROM pg_stat_activity WHERE datname = current_database() AND backend_xid IS NOT NULL',
  );
  const xids = running.rows[0]?.xids ?? [];
  const started = Date.now();
  let warned = false;
  while (xids.length > 0) {
    const open = await client.query<{ n: number }>(
      'SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND backend_xid = ANY($1::xid[])',
      [xids],
    );
    if (open.rows[0]!.n === 0) break;
    if (!warned && Date.now() - started > WAIT_WARN_MS) {
      warned = true;
      log.warn(
        { component: 'audit-sealer' },
        'a long transaction is delaying the audit chain (rows stay unsealed until it ends)',
      );
    }
    await sleep(WAIT_POLL_MS);
  }

  let sealed = 0;
  for (;;) {
    const head = await newestChainedAudit(q);
    const headId = head?.id ?? 0;
    let prev = head?.hash ?? GENESIS_HASH;
    const rows = await unchainedAuditRows(q, headId, bound, batch);
    // Only against the head this round started from: firstId was read before the round, so once a batch is sealed
    // it lies below the new head as a matter of course (the false alarm of every round longer than one batch).
    if (sealed === 0 && firstId < headId && !reportedBelowHead.has(firstId)) {
      // Cannot happen while every append goes through insertUnsealedAudit; such a row is never chained out of order.
      reportedBelowHead.add(firstId);
      log.error(
        { component: 'audit-sealer', rowId: firstId, headId },
        'an unsealed audit row lies below the chain head; left unsealed for audit verify to report',
      );
    }
    if (rows.length === 0) return sealed;
    const links: { id: number; prevHash: string; hash: string }[] = [];
    for (const row of rows) {
      const hash = auditRowHash(prev, row);
      links.push({ id: row.id, prevHash: prev, hash });
      prev = hash;
    }
    sealed += await chainAuditRows(q, links);
    if (rows.length < batch) return sealed;
  }
}

/** Runs in every instance; seals while it holds the lock, stands by otherwise. Stopped by PgDb.close(). */
export class AuditSealer {
  private client: pg.Client | undefined;
  private leader = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private readonly idleMs: number;
  private readonly standbyMs: number;
  private readonly batch: number;

  constructor(
    private readonly db: PgDb,
    private readonly o: SealerOptions,
  ) {
    this.idleMs = o.idleMs ?? 200;
    this.standbyMs = o.standbyMs ?? 2_000;
    this.batch = o.batch ?? 500;
  }

  get isLeader(): boolean {
    return this.leader;
  }

  start(): this {
    this.schedule(0);
    this.db.addCloseHook(() => this.stop());
    return this;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().then((next) => this.schedule(next));
    }, ms);
    this.timer.unref();
  }

  /** One step; returns the delay before the next. */
  private async tick(): Promise<number> {
    try {
      if (!this.leader) {
        this.client ??= await this.connect();
        const got = await this.client.query<{ ok: number }>('SELECT pg_try_advisory_lock($1) AS ok', [
          PG_LOCKS.auditSealer,
        ]);
        this.leader = got.rows[0]?.ok === 1;
        if (!this.leader) return this.standbyMs;
        this.o.log.info({ component: 'audit-sealer' }, 'this instance now seals the audit chain');
      }
      const sealed = await sealRound(this.client!, this.o.log, this.batch);
      return sealed >= this.batch ? 0 : this.idleMs;
    } catch (err) {
      if (!this.stopped)
        this.o.log.warn({ component: 'audit-sealer', err: String(err) }, 'audit sealer lost its connection; retrying');
      this.drop();
      return this.standbyMs;
    }
  }

  private async connect(): Promise<pg.Client> {
    const client = await this.db.connectDedicated();
    client.on('error', () => this.drop()); // a dropped session released the lock; another instance may take over
    return client;
  }

  private drop(): void {
    this.leader = false;
    this.client?.end().catch(() => undefined);
    this.client = undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    const client = this.client;
    this.client = undefined;
    this.leader = false;
    await client?.end().catch(() => undefined); // ending the session releases the lock for a standby instance
  }
}

export function startAuditSealer(db: PgDb, o: SealerOptions): AuditSealer {
  return new AuditSealer(db, o).start();
}

/**
 * Waits until every audit row committed before the call is sealed (tests, `audit verify`, migrate-data). Seals them
 * itself when no instance holds the sealer lock; otherwise lets the sealer do it.
 */
export async function waitUntilAuditSealed(db: PgDb, log: Logger, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const client = await db.connectDedicated();
  const q = clientQueryable(client);
  try {
    const max = await highestAuditId(q);
    for (;;) {
      const got = await client.query<{ ok: number }>('SELECT pg_try_advisory_lock($1) AS ok', [PG_LOCKS.auditSealer]);
      if (got.rows[0]?.ok === 1) {
        try {
          while ((await sealRound(client, log)) > 0);
        } finally {
          await client.query('SELECT pg_advisory_unlock($1)', [PG_LOCKS.auditSealer]);
        }
      }
      if ((await countUnchainedAudit(q, max)) === 0) return;
      if (Date.now() > deadline) throw new Error(`audit rows up to ${max} are still unsealed after ${timeoutMs} ms`);
      await sleep(50);
    }
  } finally {
    await client.end();
  }
}
