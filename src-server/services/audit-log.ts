import { createHash } from 'node:crypto';
import { canonicalJson } from '../../src-shared/canonical.js';
import type { Queryable } from '../db/port.js';
import type { Logger } from '../logger.js';

/**
 * The audit log's shape, with no database behind it: the row, the hash that chains rows, and the one interface both
 * engines implement (services/audit.ts on SQLite, services/audit-sealer.ts on PostgreSQL). The composition root
 * (bootstrap.ts) picks the implementation once and puts it in the ServerContext.
 */
export type AuditOutcome = 'success' | 'failure' | 'info';
export type AuditActorKind = 'admin' | 'client' | 'device' | 'user' | 'system' | 'radius';

/** One stored audit row. */
export interface AuditRow {
  id: number;
  at: number;
  type: string;
  outcome: AuditOutcome;
  actorKind: AuditActorKind;
  actor: string | null;
  subject: string | null;
  device: string | null;
  purpose: string | null;
  method: string | null;
  reason: string | null;
  /** Canonical JSON of the event's details. */
  details: string;
  prevHash: string | null;
  hash: string | null;
}

/** A row before it is inserted: the database gives the id, the chain gives prevHash and hash. */
export type NewAuditRow = Omit<AuditRow, 'id' | 'prevHash' | 'hash'>;

/** prev_hash of the first row: the chain starts from a fixed value, so deleting row 1 is detected too. */
export const GENESIS_HASH = '0'.repeat(64);

/** The bytes a row's hash covers: every column but the chain itself, in a fixed canonical form. */
export function auditRowHash(prevHash: string, row: Omit<AuditRow, 'prevHash' | 'hash'>): string {
  const canonical = canonicalJson({
    id: Number(row.id),
    at: Number(row.at),
    type: row.type,
    outcome: row.outcome,
    actorKind: row.actorKind,
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

/**
 * Where audit rows go, and how they are chained (docs/design.md §4, docs/architecture.md rule 4):
 *  - `on-insert` (SQLite): the insert reads the previous row's hash and chains the new row in the same transaction;
 *    SQLite serialises transactions, so appends cannot fork the chain.
 *  - `sealed-later` (PostgreSQL): instances append concurrently, so rows are inserted unchained and ONE sealer
 *    chains committed rows in id order (services/audit-sealer.ts).
 */
export interface AuditLog {
  readonly chaining: 'on-insert' | 'sealed-later';
  /** Inserts one row with the caller's transaction, so it commits or rolls back with the change it records. */
  insert(q: Queryable, row: NewAuditRow): Promise<void>;
  /** Starts the background work that chains rows, if this log has any (the serve command starts it). */
  startSealing(log: Logger): { stop(): Promise<void> };
  /** Resolves once every row committed before the call is chained (audit verify, migrate-data, tests). */
  waitUntilSealed(log: Logger, timeoutMs?: number): Promise<void>;
}
