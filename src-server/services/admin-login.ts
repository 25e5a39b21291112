import { LifelineError } from '../../src-shared/errors.js';
import type { ServerContext } from '../context.js';
import { appendAudit } from './audit.js';
import type { AdminRecord } from '../db/queries/admins.js';
import { consumeAdminTotp, findAdmin } from './admins.js';
import { verifyPassword } from './passwords.js';
import { claimBackoffAttempt, hitRateLimit, resetRateLimit, type BackoffPolicy } from './rate-limit.js';
import { authorityOf, type Permission } from './roles.js';
import { createSession, markMfa, revokeSession, type SessionKind } from './sessions.js';
import { tryNormalizeUsername } from './users.js';

/**
 * Sign-in throttling that bounds guessing without letting anyone lock an admin out by failing under its name
 * (OWASP ASVS 5.0 §6.3; docs/threat-model.md):
 *  - per client address, any name: 30 attempts per 15-minute window;
 *  - per admin name from one address: 10 per 15-minute window, so one address cannot keep guessing one name;
 *  - per admin name from all addresses: growing delays (10 attempts at once, then 1 s, 2 s, 4 s … capped at 90 s,
 *    forgotten after an hour without attempts), so many addresses together get at most one guess per 90 s (40 an
 *    hour, the bound the former 10-per-15-minutes lock gave), while the owner, from any other address, waits at
 *    most 90 s. A successful sign-in ends the run.
 * A live session's step-up is limited per session instead, so failed sign-ins under the name never touch it.
 */
export const LOGIN_LIMITS = {
  perAddress: 30,
  perAdminAddress: 10,
  windowMs: 15 * 60 * 1000,
  perAdminBackoff: { free: 10, baseMs: 1000, capMs: 90 * 1000, forgetMs: 60 * 60 * 1000 } satisfies BackoffPolicy,
  stepUpPerSession: 10,
} as const;

const badCredentials = () =>
  new LifelineError('invalid_credentials', 'The username, password or authenticator code is wrong.', 401);
const adminRunKey = (name: string) => `admin-login:admin:${name}`;
const adminAddressKey = (name: string, address: string) => `admin-login:admin-addr:${name}:${address}`;
const stepUpKey = (sessionId: string) => `admin-step-up:session:${sessionId}`;

async function refuse(
  ctx: ServerContext,
  type: 'admin.login' | 'admin.step-up',
  actor: string,
  address: string,
  retryAfterSeconds: number,
): Promise<never> {
  await appendAudit(ctx.db, ctx, {
    type,
    outcome: 'failure',
    actorKind: 'admin',
    actor,
    reason: 'rate_limited',
    details: { address },
  });
  const message =
    type === 'admin.login'
      ? 'Too many sign-in attempts; wait and try again.'
      : 'Too many step-up attempts in this session; wait and try again.';
  throw new LifelineError('rate_limited', message, 429, { retryAfterSeconds });
}

async function limitLogin(ctx: ServerContext, username: string, address: string): Promise<void> {
  const now = ctx.clock.now();
  const windows: [string, number][] = [
    [`admin-login:addr:${address}`, LOGIN_LIMITS.perAddress],
    [adminAddressKey(username, address), LOGIN_LIMITS.perAdminAddress],
  ];
  for (const [key, max] of windows) {
    const r = await hitRateLimit(ctx.db, key, max, LOGIN_LIMITS.windowMs, now);
    if (!r.allowed) await refuse(ctx, 'admin.login', username, address, r.retryAfterSeconds);
  }
  const run = await claimBackoffAttempt(ctx.db, adminRunKey(username), LOGIN_LIMITS.perAdminBackoff, now);
  if (!run.allowed) await refuse(ctx, 'admin.login', username, address, run.retryAfterSeconds);
}

export interface LoginResult {
  token: string;
  csrfToken?: string;
  expiresAt: number;
  roles: string[];
  permissions: Permission[];
  username: string;
}

/**
 * Password and TOTP, both required, with one answer for every failure. The password is always hashed (an unknown
 * name costs a full hash too); the TOTP code is checked and its step consumed only once the password matched, so
 * someone without the password cannot burn the admin's codes.
 */
export async function loginAdmin(
  ctx: ServerContext,
  input: { username: string; password: string; otp: string; address: string; kind: SessionKind },
): Promise<LoginResult> {
  const name = tryNormalizeUsername(input.username) ?? '(invalid)';
  await limitLogin(ctx, name, input.address);
  const admin: AdminRecord | undefined = name === '(invalid)' ? undefined : await findAdmin(ctx.db, name);
  const passwordOk = await verifyPassword(ctx, admin?.passwordHash, input.password);
  let reason: string | undefined;
  if (!admin) reason = 'unknown_admin';
  else if (admin.status !== 'active') reason = 'disabled';
  else if (!passwordOk) reason = 'bad_password';
  else {
    const totp = await consumeAdminTotp(ctx, admin, input.otp);
    if (!totp.ok) reason = totp.replay ? 'otp_replayed' : 'bad_otp';
  }
  if (reason || !admin) {
    await appendAudit(ctx.db, ctx, {
      type: 'admin.login',
      outcome: 'failure',
      actorKind: 'admin',
      actor: name,
      reason: reason ?? 'unknown_admin',
      details: { address: input.address, kind: input.kind },
    });
    throw badCredentials();
  }
  const authority = await authorityOf(ctx.db, admin.id);
  const session = await ctx.db.tx(async (q) => {
    const s = await createSession(q, ctx, admin.id, input.kind);
    await appendAudit(q, ctx, {
      type: 'admin.login',
      outcome: 'success',
      actorKind: 'admin',
      actor: admin.username,
      details: { address: input.address, kind: input.kind },
    });
    return s;
  });
  await resetRateLimit(ctx.db, adminRunKey(name));
  await resetRateLimit(ctx.db, adminAddressKey(name, input.address));
  return {
    token: session.token,
    ...(session.csrfToken ? { csrfToken: session.csrfToken } : {}),
    expiresAt: session.expiresAt,
    roles: authority.roles,
    permissions: [...authority.permissions],
    username: admin.username,
  };
}

/** A fresh TOTP code renews the session's high assurance for another 15 minutes; attempts are limited per session. */
export async function stepUp(
  ctx: ServerContext,
  input: { adminId: number; username: string; sessionId: string; otp: string; address: string },
): Promise<void> {
  const limit = await hitRateLimit(
    ctx.db,
    stepUpKey(input.sessionId),
    LOGIN_LIMITS.stepUpPerSession,
    LOGIN_LIMITS.windowMs,
    ctx.clock.now(),
  );
  if (!limit.allowed) await refuse(ctx, 'admin.step-up', input.username, input.address, limit.retryAfterSeconds);
  const admin = await findAdmin(ctx.db, input.username);
  const totp = admin ? await consumeAdminTotp(ctx, admin, input.otp) : { ok: false, replay: false };
  if (!totp.ok) {
    await appendAudit(ctx.db, ctx, {
      type: 'admin.step-up',
      outcome: 'failure',
      actorKind: 'admin',
      actor: input.username,
      reason: totp.replay ? 'otp_replayed' : 'bad_otp',
    });
    throw new LifelineError('invalid_credentials', 'The authenticator code is wrong or was already used.', 401);
  }
  await ctx.db.tx(async (q) => {
    await markMfa(q, input.sessionId, ctx.clock.now());
    await appendAudit(q, ctx, { type: 'admin.step-up', outcome: 'success', actorKind: 'admin', actor: input.username });
  });
  await resetRateLimit(ctx.db, stepUpKey(input.sessionId));
}

/** Sign-out: the session ends, with its audit row. */
export async function logoutAdmin(ctx: ServerContext, sessionId: string, username: string): Promise<void> {
  await ctx.db.tx(async (q) => {
    await revokeSession(q, sessionId, ctx.clock.now());
    await appendAudit(q, ctx, { type: 'admin.logout', outcome: 'success', actorKind: 'admin', actor: username });
  });
}
