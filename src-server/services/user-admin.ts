import { LifelineError } from '../../src-shared/errors.js';
import { randomBytes } from '../../src-shared/crypto/random.js';
import type { ServerContext } from '../context.js';
import type { Queryable } from '../db/port.js';
import { findPolicyById, findPolicyByName } from '../db/queries/policies.js';
import { activeTemporaryCode } from '../db/queries/temporary-codes.js';
import { deleteToken as deleteTokenRow, findToken, upsertToken } from '../db/queries/tokens.js';
import {
  bumpTokenGeneration,
  insertUser,
  setUserPin,
  updateUserFields,
  userNameTaken,
  type UserFieldsPatch,
  type UserRecord,
} from '../db/queries/users.js';
import { appendAudit } from './audit.js';
import { assertNotConfusable } from './confusable-names.js';
import { emergencySetSummary } from './emergency-codes.js';
import { clearLockout } from './lockout.js';
import { notifyUser } from './notifier.js';
import { hashPin } from './pin.js';
import { policyForUser } from './policy.js';
import { encryptSecret } from './secrets.js';
import { revokeTemporaryCode, temporaryCodeSummary } from './temporary-codes.js';
import { DEFAULT_TOTP, newTotpSecret, otpauthUri, type TotpAlgorithm } from './totp.js';
import { lockState, normalizeUsername, requireUser } from './users.js';
import { TOTP_ISSUER } from './admins.js';

/** Admin operations on users (docs/design.md §4). Each change and its audit row commit together; slow hashing runs first. */

export interface Actor {
  username: string;
}

async function policyIdByName(q: Queryable, name: string): Promise<number> {
  const p = await findPolicyByName(q, name);
  if (!p) throw new LifelineError('validation_failed', `No policy named ${name}.`, 400);
  return p.id;
}

export async function userView(q: Queryable, user: UserRecord, now: number) {
  const policy = user.policyId !== null ? await findPolicyById(q, user.policyId) : undefined;
  const token = await findToken(q, user.id);
  const temp = await activeTemporaryCode(q, user.id, now);
  return {
    username: user.username,
    displayName: user.displayName,
    email: user.email,
    status: user.status,
    policy: policy?.name ?? 'default',
    hasPin: user.pinHash !== null,
    pinGeneration: user.pinGeneration,
    tokenGeneration: user.tokenGeneration,
    token: token
      ? { algorithm: token.algorithm, digits: token.digits, period: token.period, enrolledAt: token.enrolledAt }
      : null,
    lock: lockState(user, now),
    temporaryCode: temp ? temporaryCodeSummary(temp) : null,
    emergencyCodes: (await emergencySetSummary(q, user.id, now)) ?? null,
    createdAt: user.createdAt,
    updatedAt: user.updatedAt,
  };
}

export async function createUser(
  ctx: ServerContext,
  actor: Actor,
  input: { username: string; displayName?: string; email?: string; policy?: string; status?: 'active' | 'inactive' },
): Promise<UserRecord> {
  const username = normalizeUsername(input.username);
  await assertNotConfusable(ctx.db, 'users', username);
  const now = ctx.clock.now();
  return ctx.db.tx(async (q) => {
    if (await userNameTaken(q, username)) throw new LifelineError('conflict', 'A user with this name exists.', 409);
    const policyId = input.policy !== undefined ? await policyIdByName(q, input.policy) : null;
    const row = await insertUser(q, {
      username,
      displayName: input.displayName ?? null,
      email: input.email ?? null,
      status: input.status ?? 'active',
      policyId,
      codeSalt: randomBytes(16),
      now,
    });
    await appendAudit(q, ctx, {
      type: 'user.created',
      outcome: 'success',
      actorKind: 'admin',
      actor: actor.username,
      subject: username,
      details: { policy: input.policy ?? 'default', status: input.status ?? 'active' },
    });
    return row;
  });
}

export { searchUsers } from '../db/queries/users.js';

export async function updateUser(
  ctx: ServerContext,
  actor: Actor,
  username: string,
  patch: { status?: 'active' | 'inactive'; policy?: string; displayName?: string | null; email?: string | null },
): Promise<UserRecord> {
  const now = ctx.clock.now();
  return ctx.db.tx(async (q) => {
    const user = await requireUser(q, username);
    const fields: UserFieldsPatch = {};
    const changed: Record<string, string | null> = {};
    if (patch.status !== undefined && patch.status !== user.status) {
      fields.status = patch.status;
      changed.status = patch.status;
    }
    if (patch.policy !== undefined) {
      fields.policyId = await policyIdByName(q, patch.policy);
      changed.policy = patch.policy;
    }
    if (patch.displayName !== undefined) {
      fields.displayName = patch.displayName;
      changed.displayName = patch.displayName;
    }
    if (patch.email !== undefined) {
      fields.email = patch.email;
      changed.email = patch.email === null ? null : 'changed';
    }
    if (Object.keys(fields).length === 0) return user;
    const updated = await updateUserFields(q, user.id, fields, now);
    await appendAudit(q, ctx, {
      type: 'user.updated',
      outcome: 'success',
      actorKind: 'admin',
      actor: actor.username,
      subject: user.username,
      details: changed,
    });
    // An inactive user gets nothing online (docs/design.md §3): its temporary code goes with the deactivation.
    if (patch.status === 'inactive' && user.status === 'active') {
      await revokeTemporaryCode(q, ctx, user, {
        reason: 'user-deactivated',
        actorKind: 'admin',
        actor: actor.username,
      });
    }
    return updated;
  });
}

export async function unlockUser(ctx: ServerContext, actor: Actor, username: string): Promise<UserRecord> {
  const now = ctx.clock.now();
  return ctx.db.tx(async (q) => {
    const user = await requireUser(q, username);
    const { wasLocked } = await clearLockout(q, user.id, now);
    await appendAudit(q, ctx, {
      type: 'user.unlocked',
      outcome: 'success',
      actorKind: 'admin',
      actor: actor.username,
      subject: user.username,
      details: {
        wasLocked,
        failures: user.failures,
        lockPeriods: user.lockPeriods,
        wasLockedPermanently: user.lockedPermanently,
      },
    });
    return (await requireUser(q, username))!;
  });
}

/**
 * Enrolls (or replaces) the user's TOTP token and returns its otpauth URI, the only time the seed leaves the server.
 * A new token means new offline data (token_generation) and, by default policy, the end of any temporary code
 * (Imprivata: temporary codes go when the user is back on the normal factor).
 */
export async function enrollToken(
  ctx: ServerContext,
  actor: Actor,
  username: string,
  params: { algorithm?: TotpAlgorithm; digits?: 6 | 8 },
): Promise<{ otpauthUri: string; algorithm: TotpAlgorithm; digits: 6 | 8; period: number }> {
  const totp = { ...DEFAULT_TOTP, ...params };
  const secret = newTotpSecret();
  const now = ctx.clock.now();
  const label = await ctx.db.tx(async (q) => {
    const user = await requireUser(q, username);
    const policy = await policyForUser(q, user);
    if (!policy.enrollmentAllowed)
      throw new LifelineError('policy_violation', 'The user’s policy does not allow enrolling a token.', 403);
    const sealed = encryptSecret(ctx, `token:${user.id}`, Buffer.from(secret, 'utf8'));
    await upsertToken(q, {
      userId: user.id,
      seedEnc: sealed,
      algorithm: totp.algorithm,
      digits: totp.digits,
      period: totp.period,
      enrolledAt: now,
      enrolledBy: actor.username,
    });
    await bumpTokenGeneration(q, user.id, now);
    await appendAudit(q, ctx, {
      type: 'token.enrolled',
      outcome: 'success',
      actorKind: 'admin',
      actor: actor.username,
      subject: user.username,
      details: { algorithm: totp.algorithm, digits: totp.digits },
    });
    if (policy.temporaryCodes.revokeOnTokenSuccess)
      await revokeTemporaryCode(q, ctx, user, { reason: 'token-enrolled', actorKind: 'admin', actor: actor.username });
    await notifyUser(q, ctx, {
      userId: user.id,
      username: user.username,
      kind: 'token-enrolled',
      details: { by: actor.username },
    });
    return user.username;
  });
  return {
    otpauthUri: otpauthUri(secret, TOTP_ISSUER, label, totp),
    algorithm: totp.algorithm,
    digits: totp.digits,
    period: totp.period,
  };
}

/** The stolen-device case: the enrollment goes, and agents drop the token's offline windows at their next sync. */
export async function deleteToken(ctx: ServerContext, actor: Actor, username: string): Promise<void> {
  const now = ctx.clock.now();
  await ctx.db.tx(async (q) => {
    const user = await requireUser(q, username);
    if (!(await deleteTokenRow(q, user.id)))
      throw new LifelineError('not_found', 'The user has no enrolled token.', 404);
    await bumpTokenGeneration(q, user.id, now);
    await appendAudit(q, ctx, {
      type: 'token.deleted',
      outcome: 'success',
      actorKind: 'admin',
      actor: actor.username,
      subject: user.username,
    });
    await notifyUser(q, ctx, {
      userId: user.id,
      username: user.username,
      kind: 'token-deleted',
      details: { by: actor.username },
    });
  });
}

export const PIN_MAX = 64;

export async function setPin(ctx: ServerContext, actor: Actor, username: string, pin: string): Promise<void> {
  const user = await requireUser(ctx.db, username);
  const policy = await policyForUser(ctx.db, user);
  const length = [...pin.normalize('NFC')].length;
  if (length < policy.pin.minLength)
    throw new LifelineError('policy_violation', `The PIN must have at least ${policy.pin.minLength} characters.`, 400);
  if (length > PIN_MAX || /[\p{C}]/u.test(pin))
    throw new LifelineError('validation_failed', `A PIN has at most ${PIN_MAX} printable characters.`, 400);
  const { hash, salt } = await hashPin(ctx, pin);
  const now = ctx.clock.now();
  await ctx.db.tx(async (q) => {
    if (!(await setUserPin(q, user.id, { hash, salt }, now)))
      throw new LifelineError('not_found', 'No such user.', 404);
    await appendAudit(q, ctx, {
      type: 'pin.set',
      outcome: 'success',
      actorKind: 'admin',
      actor: actor.username,
      subject: user.username,
    });
    await notifyUser(q, ctx, {
      userId: user.id,
      username: user.username,
      kind: 'pin-set',
      details: { by: actor.username },
    });
  });
}
