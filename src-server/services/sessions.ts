import { constantTimeEqual } from '../../src-shared/crypto/compare.js';
import { hmacSha256 } from '../../src-shared/crypto/kdf.js';
import { randomToken } from '../../src-shared/crypto/random.js';
import type { ServerContext } from '../context.js';
import type { Queryable } from '../db/port.js';
import {
  findSession,
  insertSession,
  touchSession,
  type SessionKind,
  type SessionRecord,
} from '../db/queries/sessions.js';

export const SESSION_ABSOLUTE_MS = 8 * 60 * 60 * 1000;
export const SESSION_IDLE_MS = 30 * 60 * 1000;
/** docs/design.md §4: a session is high-assurance for 15 minutes after its password+TOTP check or a step-up. */
export const HIGH_ASSURANCE_MS = 15 * 60 * 1000;
/** last_seen_at is written at most this often, so reads do not turn into a write per request. */
const TOUCH_EVERY_MS = 30 * 1000;

export type { SessionKind, SessionRecord };

/** Sessions are stored under a keyed hash of their token: a database read does not yield a usable token. */
const sessionId = (ctx: Pick<ServerContext, 'keys'>, token: string) =>
  hmacSha256(ctx.keys.pepper, 'admin-session', token).toString('hex');
const csrfHash = (ctx: Pick<ServerContext, 'keys'>, csrf: string) =>
  hmacSha256(ctx.keys.pepper, 'admin-csrf', csrf).toString('hex');

export async function createSession(
  q: Queryable,
  ctx: ServerContext,
  adminId: number,
  kind: SessionKind,
): Promise<{ id: string; token: string; csrfToken?: string; expiresAt: number }> {
  const now = ctx.clock.now();
  const token = randomToken(32);
  const csrfToken = kind === 'cookie' ? randomToken(32) : undefined;
  const id = sessionId(ctx, token);
  const expiresAt = now + SESSION_ABSOLUTE_MS;
  await insertSession(q, { id, adminId, kind, csrfHash: csrfToken ? csrfHash(ctx, csrfToken) : null, now, expiresAt });
  return { id, token, ...(csrfToken ? { csrfToken } : {}), expiresAt };
}

/** The live session for a token (not revoked, not expired, not idle too long), refreshed; else undefined. */
export async function resumeSession(
  ctx: ServerContext,
  token: string,
  kind: SessionKind,
): Promise<SessionRecord | undefined> {
  const now = ctx.clock.now();
  const s = await findSession(ctx.db, sessionId(ctx, token), kind);
  if (!s || s.revokedAt !== null || s.expiresAt <= now || s.lastSeenAt + SESSION_IDLE_MS <= now) return undefined;
  if (now - s.lastSeenAt >= TOUCH_EVERY_MS) {
    await touchSession(ctx.db, s.id, now);
    s.lastSeenAt = now;
  }
  return s;
}

export function csrfMatches(
  ctx: Pick<ServerContext, 'keys'>,
  s: SessionRecord,
  presented: string | undefined,
): boolean {
  if (!s.csrfHash || !presented) return false;
  return constantTimeEqual(csrfHash(ctx, presented), s.csrfHash);
}

export function isHighAssurance(s: Pick<SessionRecord, 'mfaAt'>, now: number): boolean {
  return s.mfaAt + HIGH_ASSURANCE_MS > now;
}

export { markSessionMfa as markMfa, revokeAdminSessions, revokeSession } from '../db/queries/sessions.js';
