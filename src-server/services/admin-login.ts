import { LifelineError } from '../../src-shared/errors.js';
import type { ServerContext } from '../context.js';
import { appendAudit } from './audit.js';
import { consumeAdminTotp, findAdmin, type AdminRow } from './admins.js';
import { verifyPassword } from './passwords.js';
import { hitRateLimit, resetRateLimit } from './rate-limit.js';
import { authorityOf, type Permission } from './roles.js';
import { createSession, markMfa, type SessionKind } from './sessions.js';
import { tryNormalizeUsername } from './users.js';

/** Login attempts per admin name and per client address in a 15-minute window (DESIGN §4). */
export const LOGIN_LIMITS = { perAdmin: 10, perAddress: 30, windowMs: 15 * 60 * 1000 } as const;

const badCredentials = () => new LifelineError('invalid_credentials', 'The username, password or authenticator code is wrong.', 401);

async function limitLogin(ctx: ServerContext, username: string, address: string, type: 'admin.login' | 'admin.step-up'): Promise<void> {
  const now = ctx.clock.now();
  const limits: [string, number][] = [
    [`admin-login:addr:${address}`, LOGIN_LIMITS.perAddress],
    [`admin-login:admin:${username}`, LOGIN_LIMITS.perAdmin],
  ];
  for (const [key, max] of limits) {
    const r = await hitRateLimit(ctx.db, key, max, LOGIN_LIMITS.windowMs, now);
    if (!r.allowed) {
      await appendAudit(ctx.db, ctx, { type, outcome: 'failure', actorKind: 'admin', actor: username, reason: 'rate_limited', details: { address } });
      throw new LifelineError('rate_limited', 'Too many sign-in attempts; wait and try again.', 429, { retryAfterSeconds: r.retryAfterSeconds });
    }
  }
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
export async function loginAdmin(ctx: ServerContext, input: { username: string; password: string; otp: string; address: string; kind: SessionKind }): Promise<LoginResult> {
  const name = tryNormalizeUsername(input.username) ?? '(invalid)';
  await limitLogin(ctx, name, input.address, 'admin.login');
  const admin: AdminRow | undefined = name === '(invalid)' ? undefined : await findAdmin(ctx.db, name);
  const passwordOk = await verifyPassword(ctx, admin?.password_hash, input.password);
  let reason: string | undefined;
  if (!admin) reason = 'unknown_admin';
  else if (admin.status !== 'active') reason = 'disabled';
  else if (!passwordOk) reason = 'bad_password';
  else {
    const totp = await consumeAdminTotp(ctx, admin, input.otp);
    if (!totp.ok) reason = totp.replay ? 'otp_replayed' : 'bad_otp';
  }
  if (reason || !admin) {
    await appendAudit(ctx.db, ctx, { type: 'admin.login', outcome: 'failure', actorKind: 'admin', actor: name, reason: reason ?? 'unknown_admin', details: { address: input.address, kind: input.kind } });
    throw badCredentials();
  }
  const authority = await authorityOf(ctx.db, admin.id);
  const session = await ctx.db.tx(async (q) => {
    const s = await createSession(q, ctx, admin.id, input.kind);
    await appendAudit(q, ctx, { type: 'admin.login', outcome: 'success', actorKind: 'admin', actor: admin.username, details: { address: input.address, kind: input.kind } });
    return s;
  });
  await resetRateLimit(ctx.db, `admin-login:admin:${name}`);
  return {
    token: session.token,
    ...(session.csrfToken ? { csrfToken: session.csrfToken } : {}),
    expiresAt: session.expiresAt,
    roles: authority.roles,
    permissions: [...authority.permissions],
    username: admin.username,
  };
}

/** A fresh TOTP code renews the session's high assurance for another 15 minutes. */
export async function stepUp(ctx: ServerContext, input: { adminId: number; username: string; sessionId: string; otp: string; address: string }): Promise<void> {
  await limitLogin(ctx, input.username, input.address, 'admin.step-up');
  const admin = await findAdmin(ctx.db, input.username);
  const totp = admin ? await consumeAdminTotp(ctx, admin, input.otp) : { ok: false, replay: false };
  if (!totp.ok) {
    await appendAudit(ctx.db, ctx, { type: 'admin.step-up', outcome: 'failure', actorKind: 'admin', actor: input.username, reason: totp.replay ? 'otp_replayed' : 'bad_otp' });
    throw new LifelineError('invalid_credentials', 'The authenticator code is wrong or was already used.', 401);
  }
  await ctx.db.tx(async (q) => {
    await markMfa(q, input.sessionId, ctx.clock.now());
    await appendAudit(q, ctx, { type: 'admin.step-up', outcome: 'success', actorKind: 'admin', actor: input.username });
  });
}
