import { constantTimeEqual } from '../../src-shared/crypto/compare.js';
import { hmacSha256 } from '../../src-shared/crypto/kdf.js';
import { randomToken } from '../../src-shared/crypto/random.js';
import type { ServerContext } from '../context.js';
import type { Queryable } from '../db/port.js';

export const SESSION_ABSOLUTE_MS = 8 * 60 * 60 * 1000;
export const SESSION_IDLE_MS = 30 * 60 * 1000;
/** DESIGN §4: a session is high-assurance for 15 minutes after its password+TOTP check or a step-up. */
export const HIGH_ASSURANCE_MS = 15 * 60 * 1000;
/** last_seen_at is written at most this often, so reads do not turn into a write per request. */
const TOUCH_EVERY_MS = 30 * 1000;

export type SessionKind = 'bearer' | 'cookie';

export interface SessionRow {
  id: string;
  admin_id: number;
  kind: SessionKind;
  csrf_hash: string | null;
  created_at: number;
  mfa_at: number;
  last_seen_at: number;
  expires_at: number;
  revoked_at: number | null;
}

/** Sessions are stored under a keyed hash of their token: a database read does not yield a usable token. */
const sessionId = (ctx: Pick<ServerContext, 'keys'>, token: string) => hmacSha256(ctx.keys.pepper, 'admin-session', token).toString('hex');
const csrfHash = (ctx: Pick<ServerContext, 'keys'>, csrf: string) => hmacSha256(ctx.keys.pepper, 'admin-csrf', csrf).toString('hex');

export async function createSession(q: Queryable, ctx: ServerContext, adminId: number, kind: SessionKind): Promise<{ id: string; token: string; csrfToken?: string; expiresAt: number }> {
  const now = ctx.clock.now();
  const token = randomToken(32);
  const csrfToken = kind === 'cookie' ? randomToken(32) : undefined;
  const id = sessionId(ctx, token);
  const expiresAt = now + SESSION_ABSOLUTE_MS;
  await q.run(
    'INSERT INTO sessions (id, admin_id, kind, csrf_hash, created_at, mfa_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    [id, adminId, kind, csrfToken ? csrfHash(ctx, csrfToken) : null, now, now, now, expiresAt],
  );
  return { id, token, ...(csrfToken ? { csrfToken } : {}), expiresAt };
}

/** The live session for a token (not revoked, not expired, not idle too long), refreshed; else undefined. */
export async function resumeSession(ctx: ServerContext, token: string, kind: SessionKind): Promise<SessionRow | undefined> {
  const now = ctx.clock.now();
  const s = await ctx.db.get<SessionRow>('SELECT * FROM sessions WHERE id = ? AND kind = ?', [sessionId(ctx, token), kind]);
  if (!s || s.revoked_at !== null || Number(s.expires_at) <= now || Number(s.last_seen_at) + SESSION_IDLE_MS <= now) return undefined;
  if (now - Number(s.last_seen_at) >= TOUCH_EVERY_MS) {
    await ctx.db.run('UPDATE sessions SET last_seen_at = ? WHERE id = ? AND last_seen_at < ?', [now, s.id, now]);
    s.last_seen_at = now;
  }
  return s;
}

export function csrfMatches(ctx: Pick<ServerContext, 'keys'>, s: SessionRow, presented: string | undefined): boolean {
  if (!s.csrf_hash || !presented) return false;
  return constantTimeEqual(csrfHash(ctx, presented), s.csrf_hash);
}

export function isHighAssurance(s: Pick<SessionRow, 'mfa_at'>, now: number): boolean {
  return Number(s.mfa_at) + HIGH_ASSURANCE_MS > now;
}

export async function markMfa(q: Queryable, sessionIdValue: string, now: number): Promise<void> {
  await q.run('UPDATE sessions SET mfa_at = ? WHERE id = ?', [now, sessionIdValue]);
}

export async function revokeSession(q: Queryable, sessionIdValue: string, now: number): Promise<void> {
  await q.run('UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [now, sessionIdValue]);
}

export async function revokeAdminSessions(q: Queryable, adminId: number, now: number): Promise<void> {
  await q.run('UPDATE sessions SET revoked_at = ? WHERE admin_id = ? AND revoked_at IS NULL', [now, adminId]);
}
