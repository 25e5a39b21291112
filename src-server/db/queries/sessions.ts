import type { Queryable, Row } from '../port.js';

export type SessionKind = 'bearer' | 'cookie';

/** An admin session (table `sessions`), stored under a keyed hash of its token. */
export interface SessionRecord {
  id: string;
  adminId: number;
  kind: SessionKind;
  csrfHash: string | null;
  createdAt: number;
  mfaAt: number;
  lastSeenAt: number;
  expiresAt: number;
  revokedAt: number | null;
}

function toSessionRecord(r: Row): SessionRecord {
  return {
    id: r.id as string,
    adminId: Number(r.admin_id),
    kind: r.kind as SessionKind,
    csrfHash: (r.csrf_hash as string | null) ?? null,
    createdAt: Number(r.created_at),
    mfaAt: Number(r.mfa_at),
    lastSeenAt: Number(r.last_seen_at),
    expiresAt: Number(r.expires_at),
    revokedAt: r.revoked_at === null || r.revoked_at === undefined ? null : Number(r.revoked_at),
  };
}

export async function insertSession(
  q: Queryable,
  s: { id: string; adminId: number; kind: SessionKind; csrfHash: string | null; now: number; expiresAt: number },
): Promise<void> {
  await q.run(
    'INSERT INTO sessions (id, admin_id, kind, csrf_hash, created_at, mfa_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    [s.id, s.adminId, s.kind, s.csrfHash, s.now, s.now, s.now, s.expiresAt],
  );
}

export async function findSession(q: Queryable, id: string, kind: SessionKind): Promise<SessionRecord | undefined> {
  const row = await q.get('SELECT * FROM sessions WHERE id = ? AND kind = ?', [id, kind]);
  return row ? toSessionRecord(row) : undefined;
}

/** Moves last_seen_at forward only. */
export async function touchSession(q: Queryable, id: string, now: number): Promise<void> {
  await q.run('UPDATE sessions SET last_seen_at = ? WHERE id = ? AND last_seen_at < ?', [now, id, now]);
}

export async function markSessionMfa(q: Queryable, id: string, now: number): Promise<void> {
  await q.run('UPDATE sessions SET mfa_at = ? WHERE id = ?', [now, id]);
}

export async function revokeSession(q: Queryable, id: string, now: number): Promise<void> {
  await q.run('UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [now, id]);
}

export async function revokeAdminSessions(q: Queryable, adminId: number, now: number): Promise<void> {
  await q.run('UPDATE sessions SET revoked_at = ? WHERE admin_id = ? AND revoked_at IS NULL', [now, adminId]);
}

/** Housekeeping: sessions that ended (expired or revoked) before `before`. */
export async function pruneSessions(q: Queryable, before: number): Promise<number> {
  return (await q.run('DELETE FROM sessions WHERE expires_at < ? OR revoked_at < ?', [before, before])).changes;
}
