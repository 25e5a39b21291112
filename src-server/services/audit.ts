import { canonicalJson } from '../../src-shared/canonical.js';
import type { ServerContext } from '../context.js';
import type { Db, Queryable } from '../db/port.js';
import { insertAudit, newestAuditHash, selectAudit, setAuditChain } from '../db/queries/audit.js';
import { auditRowHash, GENESIS_HASH, type AuditActorKind, type AuditLog, type AuditOutcome } from './audit-log.js';

export type { AuditRow } from './audit-log.js';

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

/**
 * Detail keys that would only ever hold a secret. A caller that tries to audit one is a bug, caught in tests rather
 * than discovered in an exported audit log.
 */
const SECRET_KEYS = /^(code|codes|pin|seed|secret|password|otp|key|token|totp)$/i;

function isDb(q: Queryable | Db): q is Db {
  return typeof (q as Db).tx === 'function';
}

/**
 * Appends one event to the context's audit log (`ctx.audit`, chosen with the database by bootstrap.ts). Call it with
 * the transaction's Queryable so the event commits or rolls back with the change it records. Given the Db itself it
 * opens its own transaction, because on SQLite the read of the previous hash and the insert must not interleave with
 * another append.
 */
export async function appendAudit(
  q: Queryable | Db,
  ctx: Pick<ServerContext, 'clock' | 'audit'>,
  e: AuditEvent,
): Promise<void> {
  if (isDb(q)) return q.tx((inner) => appendAudit(inner, ctx, e));
  for (const k of Object.keys(e.details ?? {})) {
    if (SECRET_KEYS.test(k)) throw new Error(`audit details must not carry a secret (key "${k}")`);
  }
  return ctx.audit.insert(q, {
    at: ctx.clock.now(),
    type: e.type,
    outcome: e.outcome,
    actorKind: e.actorKind,
    actor: e.actor ?? null,
    subject: e.subject ?? null,
    device: e.device ?? null,
    purpose: e.purpose ?? null,
    method: e.method ?? null,
    reason: e.reason ?? null,
    details: canonicalJson(e.details ?? {}),
  });
}

/**
 * The SQLite audit log: each insert chains its row to the one before it at once (`hash = SHA-256(prev_hash ‖
 * canonical row)`). SQLite runs one transaction at a time, so the read of the previous hash and the insert cannot
 * interleave with another append; there is nothing to seal later.
 */
export const chainedOnInsertAuditLog: AuditLog = {
  chaining: 'on-insert',
  async insert(q, row) {
    const prevHash = (await newestAuditHash(q)) ?? GENESIS_HASH;
    const id = await insertAudit(q, row);
    await setAuditChain(q, id, prevHash, auditRowHash(prevHash, { id, ...row }));
  },
  startSealing: () => ({ stop: async () => undefined }),
  waitUntilSealed: async () => undefined,
};

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
export function auditRevocation(
  q: Queryable,
  ctx: Pick<ServerContext, 'clock' | 'audit'>,
  type: string,
  username: string,
  cause: RevocationCause,
): Promise<void> {
  return appendAudit(q, ctx, {
    type,
    outcome: 'success',
    actorKind: cause.actorKind,
    ...(cause.actor !== undefined ? { actor: cause.actor } : {}),
    subject: username,
    reason: cause.reason,
  });
}

/** Newest first; `type` matches a whole type or a prefix ending in '.' (e.g. `verify.`). */
export const queryAudit = selectAudit;
