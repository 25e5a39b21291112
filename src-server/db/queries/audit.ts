import type { AuditActorKind, AuditOutcome, AuditRow, NewAuditRow } from '../../services/audit-log.js';
import type { Param, Queryable } from '../port.js';

/**
 * Every statement on the `audit` table (and its id sequence). Rows leave as AuditRow (camelCase); the services decide
 * what is appended and how it is chained (services/audit.ts, audit-sealer.ts, audit-checkpoint.ts).
 */
interface AuditTableRow {
  id: number;
  at: number;
  type: string;
  outcome: AuditOutcome;
  actor_kind: AuditActorKind;
  actor: string | null;
  subject: string | null;
  device: string | null;
  purpose: string | null;
  method: string | null;
  reason: string | null;
  details: string;
  prev_hash: string | null;
  hash: string | null;
}

function toAuditRow(r: AuditTableRow): AuditRow {
  return {
    id: Number(r.id),
    at: Number(r.at),
    type: r.type,
    outcome: r.outcome,
    actorKind: r.actor_kind,
    actor: r.actor,
    subject: r.subject,
    device: r.device,
    purpose: r.purpose,
    method: r.method,
    reason: r.reason,
    details: r.details,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

const values = (row: NewAuditRow): Param[] => [
  row.at,
  row.type,
  row.outcome,
  row.actorKind,
  row.actor,
  row.subject,
  row.device,
  row.purpose,
  row.method,
  row.reason,
  row.details,
];

/** The hash of the newest row (null when it is not chained), undefined when the table is empty. */
export async function newestAuditHash(q: Queryable): Promise<string | null | undefined> {
  return (await q.get<{ hash: string | null }>('SELECT hash FROM audit ORDER BY id DESC LIMIT 1'))?.hash;
}

/** Inserts a row without its chain columns; returns its id. */
export async function insertAudit(q: Queryable, row: NewAuditRow): Promise<number> {
  const inserted = await q.get<{ id: number }>(
    `INSERT INTO audit (at, type, outcome, actor_kind, actor, subject, device, purpose, method, reason, details)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    values(row),
  );
  if (!inserted) throw new Error('audit insert returned no id');
  return inserted.id;
}

export async function setAuditChain(q: Queryable, id: number, prevHash: string, hash: string): Promise<void> {
  await q.run('UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?', [prevHash, hash, id]);
}

/**
 * PostgreSQL only: inserts an unchained row. The MATERIALIZED CTE runs first and assigns the transaction's xid; the
 * id default (nextval) is evaluated after, when the row is projected. The sealer's bound depends on that order
 * (services/audit-sealer.ts).
 */
export async function insertUnsealedAudit(q: Queryable, row: NewAuditRow): Promise<void> {
  await q.run(
    `WITH tx AS MATERIALIZED (SELECT pg_current_xact_id() AS xid)
     INSERT INTO audit (at, type, outcome, actor_kind, actor, subject, device, purpose, method, reason, details)
     SELECT CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT),
            CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT)
     FROM tx`,
    values(row),
  );
}

export interface AuditFilter {
  username?: string;
  type?: string;
  actor?: string;
  device?: string;
  since?: number;
  until?: number;
  /** Rows with id below this one (paging backwards from the newest). */
  before?: number;
  limit: number;
}

/** Newest first; `type` matches a whole type or a prefix ending in '.' (e.g. `verify.`). */
export async function selectAudit(q: Queryable, f: AuditFilter): Promise<AuditRow[]> {
  const where: string[] = [];
  const params: Param[] = [];
  const add = (clause: string, value: Param) => {
    where.push(clause);
    params.push(value);
  };
  if (f.username !== undefined) add('subject = ?', f.username);
  if (f.type !== undefined) {
    if (f.type.endsWith('.')) add("type LIKE ? ESCAPE '\\'", f.type.replace(/[%_\\]/g, '\\$&') + '%');
    else add('type = ?', f.type);
  }
  if (f.actor !== undefined) add('actor = ?', f.actor);
  if (f.device !== undefined) add('device = ?', f.device);
  if (f.since !== undefined) add('at >= ?', f.since);
  if (f.until !== undefined) add('at < ?', f.until);
  if (f.before !== undefined) add('id < ?', f.before);
  const sql = `SELECT * FROM audit ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`;
  return (await q.all<AuditTableRow>(sql, [...params, f.limit])).map(toAuditRow);
}

/** Up to `limit` rows with ids above `afterId`, in id order (paging through the whole chain). */
export async function auditRowsAfter(q: Queryable, afterId: number, limit: number): Promise<AuditRow[]> {
  return (await q.all<AuditTableRow>('SELECT * FROM audit WHERE id > ? ORDER BY id LIMIT ?', [afterId, limit])).map(
    toAuditRow,
  );
}

/** How many rows are chained and the newest chained row (id 0 when none is). */
export async function chainedAuditHead(
  q: Queryable,
): Promise<{ count: number; headId: number; headHash: string | null }> {
  const agg = await q.get<{ n: number; head: number | null }>(
    'SELECT COUNT(*) AS n, MAX(id) AS head FROM audit WHERE hash IS NOT NULL',
  );
  const headId = Number(agg?.head ?? 0);
  const head = headId
    ? await q.get<{ hash: string | null }>('SELECT hash FROM audit WHERE id = ?', [headId])
    : undefined;
  return { count: Number(agg?.n ?? 0), headId, headHash: head?.hash ?? null };
}

/** The newest chained row by id order, if any. */
export async function newestChainedAudit(q: Queryable): Promise<{ id: number; hash: string } | undefined> {
  return q.get<{ id: number; hash: string }>(
    'SELECT id, hash FROM audit WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1',
  );
}

/** PostgreSQL only: the highest id the sequence has handed out (0 before the first). */
export async function highestIssuedAuditId(q: Queryable): Promise<number> {
  const seq = await q.get<{ last_value: number; is_called: number }>('SELECT last_value, is_called FROM audit_id_seq');
  return seq?.is_called ? seq.last_value : 0;
}

export async function lowestUnchainedAuditId(q: Queryable): Promise<number | undefined> {
  return (await q.get<{ id: number | null }>('SELECT MIN(id) AS id FROM audit WHERE hash IS NULL'))?.id ?? undefined;
}

export async function highestAuditId(q: Queryable): Promise<number> {
  return (await q.get<{ id: number | null }>('SELECT MAX(id) AS id FROM audit'))?.id ?? 0;
}

/** Unchained rows with ids in (afterId, upToId], in id order. */
export async function unchainedAuditRows(
  q: Queryable,
  afterId: number,
  upToId: number,
  limit: number,
): Promise<AuditRow[]> {
  return (
    await q.all<AuditTableRow>('SELECT * FROM audit WHERE hash IS NULL AND id > ? AND id <= ? ORDER BY id LIMIT ?', [
      afterId,
      upToId,
      limit,
    ])
  ).map(toAuditRow);
}

/** Unchained rows, all of them or those up to an id. */
export async function countUnchainedAudit(q: Queryable, upToId?: number): Promise<number> {
  const row =
    upToId === undefined
      ? await q.get<{ n: number }>('SELECT COUNT(*) AS n FROM audit WHERE hash IS NULL')
      : await q.get<{ n: number }>('SELECT COUNT(*) AS n FROM audit WHERE hash IS NULL AND id <= ?', [upToId]);
  return Number(row?.n ?? 0);
}

/**
 * PostgreSQL only: writes the chain columns of many rows in one statement, each only if it is still unchained.
 * Returns how many rows were chained.
 */
export async function chainAuditRows(
  q: Queryable,
  links: readonly { id: number; prevHash: string; hash: string }[],
): Promise<number> {
  const res = await q.run(
    `UPDATE audit AS a SET prev_hash = v.prev_hash, hash = v.hash
     FROM json_to_recordset(CAST(? AS json)) AS v (id bigint, prev_hash text, hash text)
     WHERE a.id = v.id AND a.hash IS NULL`,
    [JSON.stringify(links.map((l) => ({ id: l.id, prev_hash: l.prevHash, hash: l.hash })))],
  );
  return res.changes;
}

/**
 * Which audit types count as what in the console's chart. Issued: temporary codes and emergency sets issued or
 * replaced, and offline emergency codes revealed. Verifications: every online verification attempt. Offline uses:
 * successful offline logins that agents uploaded at their sync.
 */
const STAT_CASES = {
  issued:
    "type IN ('temporary-code.issue', 'temporary-code.replace', 'emergency-codes.issue', 'emergency-codes.replace', 'offline.emergency-reveal')",
  verifications: "type = 'verify.attempt'",
  offline: "type = 'device.offline-success'",
} as const;

const DAY_MS = 86_400_000;

/** Per UTC day (epoch day number) in [since, until), of the rows matching the filter: issued, verifications, offline uses. */
export async function auditCountsByDay(
  q: Queryable,
  f: {
    since: number;
    until: number;
    username?: string | undefined;
    actor?: string | undefined;
    device?: string | undefined;
  },
): Promise<{ day: number; issued: number; verifications: number; offline: number }[]> {
  const where: string[] = ['at >= ?', 'at < ?'];
  const params: (string | number)[] = [f.since, f.until];
  for (const [clause, value] of [
    ['subject = ?', f.username],
    ['actor = ?', f.actor],
    ['device = ?', f.device],
  ] as const) {
    if (value === undefined) continue;
    where.push(clause);
    params.push(value);
  }
  // Integer division gives the UTC day on both engines (times are BIGINT epoch ms).
  return q.all<{ day: number; issued: number; verifications: number; offline: number }>(
    `SELECT at / ${DAY_MS} AS day,
            SUM(CASE WHEN ${STAT_CASES.issued} THEN 1 ELSE 0 END) AS issued,
            SUM(CASE WHEN ${STAT_CASES.verifications} THEN 1 ELSE 0 END) AS verifications,
            SUM(CASE WHEN ${STAT_CASES.offline} THEN 1 ELSE 0 END) AS offline
       FROM audit WHERE ${where.join(' AND ')} GROUP BY at / ${DAY_MS} ORDER BY day`,
    params,
  );
}
