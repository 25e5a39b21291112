import { LifelineError } from '../../src-shared/errors.js';
import { randomToken } from '../../src-shared/crypto/random.js';
import type { ServerContext } from '../context.js';
import { isUniqueViolation } from '../db/errors.js';
import type { Queryable } from '../db/port.js';
import { grantRole } from '../db/queries/admin-roles.js';
import {
  adminNameTaken,
  advanceAdminTotpStep,
  anyAdminExists,
  findAdminByName,
  insertAdmin,
  type AdminRecord,
} from '../db/queries/admins.js';
import { appendAudit } from './audit.js';
import { assertNotConfusable } from './confusable-names.js';
import { hashPassword, ADMIN_PASSWORD_MIN } from './passwords.js';
import { findRole, SUPERADMIN_ROLE } from './roles.js';
import { decryptSecret, encryptSecret } from './secrets.js';
import { DEFAULT_TOTP, matchTokenStep, newTotpSecret, otpauthUri } from './totp.js';
import { normalizeUsername, tryNormalizeUsername } from './users.js';

/** What a session's admin is now (id, name, status): the admin guard reads it on every request. */
export { findAdminStatusById } from '../db/queries/admins.js';

export const TOTP_ISSUER = 'Lifeline';
export const BOOTSTRAP_ADMIN = 'admin';

const seedAad = (username: string) => `admin-totp:${username}`;

export async function findAdmin(q: Queryable, username: string): Promise<AdminRecord | undefined> {
  const name = tryNormalizeUsername(username);
  return name === undefined ? undefined : findAdminByName(q, name);
}

export interface NewAdmin {
  username: string;
  password: string;
  roles: readonly string[];
  /** Base32; generated when absent. */
  totpSecret?: string;
  actor: { kind: 'admin' | 'system'; name: string };
}

/**
 * Creates an admin with its password and TOTP seed; returns the seed (base32) and its otpauth URI, which the caller
 * shows once. The slow password hash runs before the transaction.
 */
export async function createAdmin(
  ctx: ServerContext,
  a: NewAdmin,
): Promise<{ id: number; username: string; totpSecret: string; otpauthUri: string }> {
  const username = normalizeUsername(a.username);
  if (a.password.length < ADMIN_PASSWORD_MIN)
    throw new LifelineError(
      'validation_failed',
      `An admin password has at least ${ADMIN_PASSWORD_MIN} characters.`,
      400,
    );
  const totpSecret = a.totpSecret ?? newTotpSecret();
  // otplib refuses secrets under 128 bits (RFC 4226 §4), so a shorter one would lock the admin out for good.
  if (!/^[A-Z2-7]{26,}=*$/.test(totpSecret))
    throw new LifelineError(
      'validation_failed',
      'The TOTP secret must be base32 of at least 128 bits (26 characters).',
      400,
    );
  await assertNotConfusable(ctx.db, 'admins', username);
  const passwordHash = await hashPassword(ctx, a.password);
  const now = ctx.clock.now();
  const id = await ctx.db.tx(async (q) => {
    if (await adminNameTaken(q, username)) throw new LifelineError('conflict', 'An admin with this name exists.', 409);
    const adminId = await insertAdmin(q, {
      username,
      passwordHash,
      totpSeedEnc: encryptSecret(ctx, seedAad(username), Buffer.from(totpSecret, 'utf8')),
      now,
    });
    for (const roleName of a.roles) {
      const role = await findRole(q, roleName);
      if (!role) throw new LifelineError('validation_failed', `No role named ${roleName}.`, 400);
      await grantRole(q, adminId, role.id);
    }
    await appendAudit(q, ctx, {
      type: 'admin.created',
      outcome: 'success',
      actorKind: a.actor.kind,
      actor: a.actor.name,
      subject: username,
      details: { roles: a.roles.join(',') },
    });
    return adminId;
  });
  return { id, username, totpSecret, otpauthUri: otpauthUri(totpSecret, TOTP_ISSUER, username) };
}

/**
 * The first superadmin `admin`, created on a first start from LIFELINE_ADMIN_PASSWORD / LIFELINE_ADMIN_TOTP_SECRET
 * when given (main.ts reads them), else from generated values the caller shows once. Does nothing when any admin
 * exists.
 */
export async function ensureBootstrapAdmin(
  ctx: ServerContext,
  input: { password?: string; totpSecret?: string },
): Promise<
  { created: false } | { created: true; username: string; password: string; totpSecret: string; otpauthUri: string }
> {
  if (await anyAdminExists(ctx.db)) return { created: false };
  const password = input.password ?? randomToken(18);
  let made: Awaited<ReturnType<typeof createAdmin>>;
  try {
    made = await createAdmin(ctx, {
      username: BOOTSTRAP_ADMIN,
      password,
      roles: [SUPERADMIN_ROLE],
      ...(input.totpSecret ? { totpSecret: input.totpSecret.toUpperCase() } : {}),
      actor: { kind: 'system', name: 'bootstrap' },
    });
  } catch (err) {
    // Two instances starting together on an empty database both passed the check above: the other one created it
    // (seen by createAdmin's own check once it committed, or by the unique index while both were in flight).
    if (isUniqueViolation(err) || (err instanceof LifelineError && err.code === 'conflict')) return { created: false };
    throw err;
  }
  return { created: true, username: made.username, password, totpSecret: made.totpSecret, otpauthUri: made.otpauthUri };
}

/**
 * Checks an admin's TOTP code and consumes its time step: the guarded update lets each step through once even when
 * two logins race with the same code. Returns false for a wrong code and for a replayed one alike.
 */
export async function consumeAdminTotp(
  ctx: ServerContext,
  admin: AdminRecord,
  otp: string,
): Promise<{ ok: boolean; replay: boolean }> {
  const secret = decryptSecret(ctx, seedAad(admin.username), admin.totpSeedEnc).toString('utf8');
  const step = await matchTokenStep({ secret, ...DEFAULT_TOTP }, otp.replace(/\s/g, ''), ctx.clock.now());
  if (step === undefined) return { ok: false, replay: false };
  return (await advanceAdminTotpStep(ctx.db, admin.id, step))
    ? { ok: true, replay: false }
    : { ok: false, replay: true };
}
