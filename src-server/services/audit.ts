import { createHash } from 'node:crypto';
import { canonicalJson } from '../../src-shared/canonical.js';
import type { ServerContext } from '../context.js';
import type { Db, Param, Queryable } from '../db/port.js';
import { insertUnsealedAudit } from './audit-sealer.js';

export type AuditOutcome = 'success' | 'failure' | 'info';
export type AuditActorKind = 'admin' | 'client' | 'device' | 'user' | 'system' | 'radius';

export interface AuditEvent {
  type: string;
  outcome: AuditOutcome;
  actorKind: AuditActorKind;
  actor?: string;
  subject?: string;
  device?: string;
  purpose?: string;
  method?: string;
  reason?: string;
  details?: Record<string, string | number | boolean | null>;
}

export interface AuditRow {
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

/** prev_hash of the first row: the chain starts from a fixed value, so deleting row 1 is detected too. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * Detail keys that would only ever hold a secret. A caller that tries to audit one is a bug, caught in tests rather
 * than discovered in an exported audit log.
 */
const SECRET_KEYS = /^(code|codes|pin|seed|secret|password|otp|key|token|totp)$/i;

/** The bytes a row's hash covers: every column but the chain itself, in a fixed canonical form. */
export function auditRowHash(prevHash: string, row: Omit<AuditRow, 'prev_hash' | 'hash'>): string {
  const canonical = canonicalJson({
    id: Number(row.id),
    at: Number(row.at),
    type: row.type,
    outcome: row.outcome,
    actorKind: row.actor_kind,
    actor: row.actor,
    subject: row.subject,
    device: row.device,
    purpose: row.purpose,
    method: row.method,
    reason: row.reason,
    details: row.details,
  });
  return createHash('sha256').update(prevHash, 'utf8').update('\n').update(canonical, 'utf8').digest('hex');
}

function isDb(q: Queryable | Db): q is Db {
  return typeof (q as Db).tx === 'function';
}

/**
 * Appends one event and chains it to the row before it. Call it with the transaction's Queryable so the event
 * commits or rolls back with the change it records. Given the Db itself it opens its own transaction, because the
 * read of the previous hash and the insert must not interleave with another append.
 */
export async function appendAudit(q: Queryable | Db, ctx: Pick<ServerContext, 'clock'> & Partial<Pick<ServerContext, 'db'>>, e: AuditEvent): Promise<void> {
  if (isDb(q)) return q.tx((inner) => appendAudit(inner, ctx, e));
  for (const k of Object.keys(e.details ?? {})) {
    if (SECRET_KEYS.test(k)) throw new Error(`audit details must not carry a secret (key "${k}")`);
  }
  const row = {
    at: ctx.clock.now(),
    type: e.type,
    outcome: e.outcome,
    actor_kind: e.actorKind,
    actor: e.actor ?? null,
    subject: e.subject ?? null,
    device: e.device ?? null,
    purpose: e.purpose ?? null,
    method: e.method ?? null,
    reason: e.reason ?? null,
    details: canonicalJson(e.details ?? {}),
  };
  // PostgreSQL: instances append concurrently, so one sealer chains committed rows later (audit-sealer.ts).
  if (ctx.db?.engine === 'postgres') return insertUnsealedAudit(q, row);
  const prev = await q.get<{ hash: string | null }>('SELECT hash FROM audit ORDER BY id DESC LIMIT 1');
  const inserted = await q.get<{ id: number }>(
    `INSERT INTO audit (at, type, outcome, actor_kind, actor, subject, device, purpose, method, reason, details)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    [row.at, row.type, row.outcome, row.actor_kind, row.actor, row.subject, row.device, row.purpose, row.method, row.reason, row.details],
  );
  if (!inserted) throw new Error('audit insert returned no id');
  const prevHash = prev?.hash ?? GENESIS_HASH;
  const hash = auditRowHash(prevHash, { id: inserted.id, ...row });
  await q.run('UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?', [prevHash, hash, inserted.id]);
}

/** Who or what revoked a user's codes before their time, and why (the admin, a token success, a deactivation…). */
export interface RevocationCause {
  reason: string;
  actorKind: AuditActorKind;
  actor?: string;
}

/**
 * Audits that a user's codes were revoked (`type`, e.g. a temporary code revoked or an emergency set voided), with
 * who did it and why. Call it in the transaction of the revoke itself.
 */
export function auditRevocation(q: Queryable, ctx: Pick<ServerContext, 'clock'>, type: string, username: string, cause: RevocationCause): Promise<void> {
  return appendAudit(q, ctx, {
    type,
    outcome: 'success',
    actorKind: cause.actorKind,
    ...(cause.actor !== undefined ? { actor: cause.actor } : {}),
    subject: username,
    reason: cause.reason,
  });
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
export async function queryAudit(q: Queryable, f: AuditFilter): Promise<AuditRow[]> {
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
  return q.all<AuditRow>(sql, [...params, f.limit]);
}
