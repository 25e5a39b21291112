import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { DatabaseBusyError } from './errors.js';
import type { Db, Param, Queryable, Row } from './port.js';

/**
 * PostgreSQL behind the async port, through a `pg` connection pool. Statements arrive in the shared dialect with
 * `?` placeholders and leave with `$1…$n`; results come back shaped like the SQLite adapter's (numbers for BIGINT,
 * COUNT and SUM, Buffers for BYTEA, 0/1 for booleans), so a service cannot tell the engines apart.
 *
 * Every guarantee rests on guarded statements and unique indexes that hold under PostgreSQL's default READ COMMITTED
 * isolation (docs/architecture.md); this adapter adds no locking of its own.
 */
export interface PgOptions {
  /** Connections per server instance. Each instance holds up to this many; size the cluster's max_connections for all. */
  poolMax?: number;
  /**
   * How long a request waits for a busy pool to free a connection before it is refused with 503 (instead of queueing
   * without bound). Only waiting for a *free* connection counts: opening a new one is bounded by connectTimeoutMs.
   */
  connectionTimeoutMs?: number;
  /** How long opening a new connection (TCP and SCRAM authentication) may take before it counts as a failure. */
  connectTimeoutMs?: number;
  /** A runaway statement is cancelled after this long. */
  statementTimeoutMs?: number;
  applicationName?: string;
}

export const PG_DEFAULTS = {
  poolMax: 10,
  connectionTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  statementTimeoutMs: 30_000,
  applicationName: 'lifeline-server',
} as const satisfies Required<PgOptions>;

const OID = { bool: 16, int8: 20, numeric: 1700 } as const;

/** int8 and numeric as JS numbers (times are epoch ms, ids and counts are small); refuse silent precision loss. */
function toSafeNumber(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`integer ${text} does not fit in a JavaScript number`);
  return n;
}

/** Per-pool type parsers, so nothing else in the process that uses `pg` sees changed global defaults. */
const typeParsers: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => {
    if (format !== 'binary') {
      if (oid === OID.int8) return toSafeNumber;
      if (oid === OID.numeric) return (text: string) => Number(text);
      if (oid === OID.bool) return (text: string) => (text === 't' ? 1 : 0);
    }
    return pg.types.getTypeParser(oid, format as 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

const converted = new Map<string, string>();

/**
 * `?` → `$n`, skipping string literals, quoted identifiers and comments (a `?` inside them is text, not a parameter).
 * Statements are a fixed set of literals, so the results are cached.
 */
export function toPgPlaceholders(sql: string): string {
  const hit = converted.get(sql);
  if (hit !== undefined) return hit;
  let out = '';
  let n = 0;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i]!;
    const closing =
      c === "'"
        ? "'"
        : c === '"'
          ? '"'
          : c === '-' && sql[i + 1] === '-'
            ? '\n'
            : c === '/' && sql[i + 1] === '*'
              ? '*/'
              : undefined;
    if (closing !== undefined) {
      const end = sql.indexOf(closing, i + (closing.length === 2 ? 2 : 1));
      const stop = end === -1 ? sql.length : end + closing.length;
      out += sql.slice(i, stop);
      i = stop - 1;
    } else if (c === '?') {
      out += `$${++n}`;
    } else {
      out += c;
    }
  }
  if (converted.size < 5000) converted.set(sql, out);
  return out;
}

/** Booleans as 0/1 like the SQLite adapter (the schema stores flags as integers). */
function toPgParams(params: readonly Param[] = []): unknown[] {
  return params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));
}

/** Set while `patiently` runs: acquire waits there retry instead of failing. */
const patience = new AsyncLocalStorage<true>();

function queryable(client: { query: pg.ClientBase['query'] }, isOpen: () => boolean = () => true): Queryable {
  const query = async <T>(sql: string, params?: readonly Param[]) => {
    if (!isOpen()) throw new Error('this transaction has already ended; use the Queryable only inside its tx callback');
    return client.query<T & pg.QueryResultRow>(toPgPlaceholders(sql), toPgParams(params));
  };
  return {
    all: async <T = Row>(sql: string, params?: readonly Param[]) => (await query<T>(sql, params)).rows as T[],
    get: async <T = Row>(sql: string, params?: readonly Param[]) =>
      (await query<T>(sql, params)).rows[0] as T | undefined,
    run: async (sql: string, params?: readonly Param[]) => ({ changes: (await query(sql, params)).rowCount ?? 0 }),
  };
}

/** A dedicated connection (PgDb.connectDedicated) as a Queryable, for the shared-dialect statements of db/queries. */
export function clientQueryable(client: pg.Client): Queryable {
  return queryable(client);
}

export class PgDb implements Db {
  readonly engine = 'postgres' as const;
  readonly pool: pg.Pool;
  /** The most connections this instance holds at once (the admission gate admits no more verifications than this). */
  readonly connections: number;
  private readonly acquireWaitMs: number;
  private readonly direct: Queryable;
  private readonly onClose: (() => Promise<void>)[] = [];

  constructor(
    readonly url: string,
    options: PgOptions = {},
    onPoolError: (err: Error) => void = () => undefined,
  ) {
    const o = { ...PG_DEFAULTS, ...options };
    this.connections = o.poolMax;
    this.acquireWaitMs = o.connectionTimeoutMs;
    this.pool = new pg.Pool({
      connectionString: url,
      max: o.poolMax,
      idleTimeoutMillis: 30_000,
      // pg-pool applies this one timeout both to waiting in its queue and to opening a new connection. Opening one
      // (TCP, SCRAM) can take longer than a short acquire wait on a loaded machine, and then failed as a fault (a 500,
      // or "cannot reach PostgreSQL" at start): the pool bounds only the opening, acquire() bounds the wait.
      connectionTimeoutMillis: o.connectTimeoutMs,
      statement_timeout: o.statementTimeoutMs,
      // A transaction left open by a stuck request would hold row locks; PostgreSQL ends it rather than wait forever.
      idle_in_transaction_session_timeout: Math.max(o.statementTimeoutMs * 2, 60_000),
      application_name: o.applicationName,
      keepAlive: true,
      types: typeParsers,
    });
    // An idle connection dropped by the server (restart, failover) must not crash the process; the pool replaces it.
    this.pool.on('error', onPoolError);
    // A statement outside a transaction borrows a connection through acquire(), like tx, so its wait is handled alike.
    this.direct = queryable({
      query: (async (text: string, values: unknown[]) => {
        const client = await this.acquire();
        try {
          return await client.query(text, values);
        } finally {
          client.release();
        }
      }) as pg.PoolClient['query'],
    });
  }

  /**
   * A pooled connection. When every connection is busy and none comes free within the acquire wait
   * (connectionTimeoutMs), the request is refused with DatabaseBusyError (503, nothing written) — except inside
   * `patiently`, where work already committed must finish: there it waits as long as it takes. Simpler than a login
   * semaphore and it guarantees what matters: a login can only be refused before its verification commits, never
   * after; overload sheds new work instead. A pool with room opens a connection instead, bounded by connectTimeoutMs.
   */
  private async acquire(): Promise<pg.PoolClient> {
    const pending = this.pool.connect();
    if (patience.getStore() || this.pool.totalCount < this.connections || this.pool.idleCount > 0) return pending;
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<'waited'>(
      (resolve) => (timer = setTimeout(() => resolve('waited'), this.acquireWaitMs)),
    );
    try {
      const first = await Promise.race([pending, waited]);
      if (first !== 'waited') return first;
    } finally {
      clearTimeout(timer);
    }
    // The place in pg-pool's queue cannot be withdrawn: when the connection comes, it goes straight back.
    pending.then(
      (client) => client.release(),
      () => undefined,
    );
    throw new DatabaseBusyError();
  }

  patiently<T>(fn: () => Promise<T>): Promise<T> {
    return patience.run(true, fn);
  }

  all<T = Row>(sql: string, params?: readonly Param[]): Promise<T[]> {
    return this.direct.all<T>(sql, params);
  }
  get<T = Row>(sql: string, params?: readonly Param[]): Promise<T | undefined> {
    return this.direct.get<T>(sql, params);
  }
  run(sql: string, params?: readonly Param[]): Promise<{ changes: number }> {
    return this.direct.run(sql, params);
  }

  /** One pooled connection for the whole transaction: BEGIN, the callback's statements, COMMIT (ROLLBACK on a throw). */
  async tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    const client = await this.acquire();
    let open = true;
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(queryable(client, () => open));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        broken = rollbackErr as Error; // the connection is unusable: the pool must discard it, not hand it out again
      }
      throw err;
    } finally {
      open = false;
      client.release(broken);
    }
  }

  /** A dedicated connection outside the pool (the audit sealer and migrations hold session-level advisory locks). */
  async connectDedicated(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.url,
      application_name: PG_DEFAULTS.applicationName,
      types: typeParsers,
    });
    // A connection lost while idle would otherwise crash the process; the next query on it fails and says why.
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  /** Background work tied to this database (the audit sealer) registers here to be stopped before the pool ends. */
  addCloseHook(hook: () => Promise<void>): void {
    this.onClose.push(hook);
  }

  async close(): Promise<void> {
    for (const hook of this.onClose.splice(0).reverse()) await hook();
    await this.pool.end();
  }
}

/**
 * Session-level advisory lock keys, one per job that must run on a single instance at a time. Fixed numbers, so
 * every instance of every version agrees on them.
 */
export const PG_LOCKS = {
  /** Schema migrations: instances starting together wait for the first one to finish, then find nothing to do. */
  migrate: 0x4c4c_0001,
  /** The audit sealer: one instance chains committed audit rows; the others stand by. */
  auditSealer: 0x4c4c_0002,
} as const;

/** Runs `fn` while holding an advisory lock on a dedicated connection, waiting for it if another instance holds it. */
export async function withPgAdvisoryLock<T>(db: PgDb, key: number, fn: () => Promise<T>): Promise<T> {
  const client = await db.connectDedicated();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [key]);
    return await fn(); // ending the session releases the lock, also when fn throws
  } finally {
    await client.end();
  }
}
