import { LifelineError } from '../../src-shared/errors.js';
import { randomBytes } from '../../src-shared/crypto/random.js';
import type { ServerContext } from '../context.js';
import type { Param, Queryable } from '../db/port.js';
import { appendAudit } from './audit.js';
import { assertNotConfusable } from './confusable-names.js';
import { emergencySetSummary } from './emergency-codes.js';
import { clearLockout } from './lockout.js';
import { notifyUser } from './notifier.js';
import { hashPin } from './pin.js';
import { findPolicyByName, policyForUser } from './policy.js';
import { encryptSecret } from './secrets.js';
import { activeTemporaryCode, revokeTemporaryCode, temporaryCodeSummary } from './temporary-codes.js';
import { DEFAULT_TOTP, newTotpSecret, otpauthUri, type TotpAlgorithm } from './totp.js';
import { lockState, normalizeUsername, requireUser, type UserRow } from './users.js';
import { TOTP_ISSUER } from './admins.js';

/** Admin operations on users (DESIGN §4). Each change and its audit row commit together; slow hashing runs first. */

export interface Actor {
  username: string;
}

async function policyIdByName(q: Queryable, name: string): Promise<number> {
  const p = await findPolicyByName(q, name);
  if (!p) throw new LifelineError('validation_failed', `No policy named ${name}.`, 400);
  return p.id;
}

export async function userView(q: Queryable, user: UserRow, now: number) {
  const policy = user.policy_id !== null ? await q.get<{ name: string }>('SELECT name FROM policies WHERE id = ?', [user.policy_id]) : undefined;
  const token = await q.get<{ algorithm: string; digits: number; period: number; enrolled_at: number; enrolled_by: string | null }>(
    'SELECT algorithm, digits, period, enrolled_at, enrolled_by FROM tokens WHERE user_id = ?',
    [user.id],
  );
  const temp = await activeTemporaryCode(q, user.id, now);
  return {
    username: user.username,
    displayName: user.display_name,
    email: user.email,
    status: user.status,
    policy: policy?.name ?? 'default',
    hasPin: user.pin_hash !== null,
    pinGeneration: Number(user.pin_generation),
    tokenGeneration: Number(user.token_generation),
    token: token ? { algorithm: token.algorithm, digits: Number(token.digits), period: Number(token.period), enrolledAt: Number(token.enrolled_at) } : null,
    lock: lockState(user, now),
    temporaryCode: temp ? temporaryCodeSummary(temp) : null,
    emergencyCodes: (await emergencySetSummary(q, user.id, now)) ?? null,
    createdAt: Number(user.created_at),
    updatedAt: Number(user.updated_at),
  };
}

export async function createUser(ctx: ServerContext, actor: Actor, input: { username: string; displayName?: string; email?: string; policy?: string; status?: 'active' | 'inactive' }): Promise<UserRow> {
  const username = normalizeUsername(input.username);
  await assertNotConfusable(ctx.db, 'users', username);
  const now = ctx.clock.now();
  return ctx.db.tx(async (q) => {
    if (await q.get('SELECT id FROM users WHERE username = ?', [username])) throw new LifelineError('conflict', 'A user with this name exists.', 409);
    const policyId = input.policy !== undefined ? await policyIdByName(q, input.policy) : null;
    const row = await q.get<UserRow>(
      `INSERT INTO users (username, display_name, email, status, policy_id, code_salt, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      [username, input.displayName ?? null, input.email ?? null, input.status ?? 'active', policyId, randomBytes(16), now, now],
    );
    await appendAudit(q, ctx, { type: 'user.created', outcome: 'success', actorKind: 'admin', actor: actor.username, subject: username, details: { policy: input.policy ?? 'default', status: input.status ?? 'active' } });
    return row!;
  });
}

export async function searchUsers(q: Queryable, search: string | undefined, limit: number, offset: number): Promise<UserRow[]> {
  const params: Param[] = [];
  let where = '';
  if (search) {
    const like = '%' + search.normalize('NFC').toLowerCase().replace(/[%_\\]/g, '\\$&') + '%';
    where = "WHERE username LIKE ? ESCAPE '\\' OR LOWER(display_name) LIKE ? ESCAPE '\\' OR LOWER(email) LIKE ? ESCAPE '\\'";
    params.push(like, like, like);
  }
  return q.all<UserRow>(`SELECT * FROM users ${where} ORDER BY username LIMIT ? OFFSET ?`, [...params, limit, offset]);
}

export async function updateUser(ctx: ServerContext, actor: Actor, username: string, patch: { status?: 'active' | 'inactive'; policy?: string; displayName?: string | null; email?: string | null }): Promise<UserRow> {
  const now = ctx.clock.now();
  return ctx.db.tx(async (q) => {
    const user = await requireUser(q, username);
    const sets: string[] = [];
    const params: Param[] = [];
    const changed: Record<string, string | null> = {};
    const set = (column: string, value: Param, field: string, shown: string | null) => {
      sets.push(`${column} = ?`);
      params.push(value);
      changed[field] = shown;
    };
    if (patch.status !== undefined && patch.status !== user.status) set('status', patch.status, 'status', patch.status);
    if (patch.policy !== undefined) set('policy_id', await policyIdByName(q, patch.policy), 'policy', patch.policy);
    if (patch.displayName !== undefined) set('display_name', patch.displayName, 'displayName', patch.displayName);
    if (patch.email !== undefined) set('email', patch.email, 'email', patch.email === null ? null : 'changed');
    if (sets.length === 0) return user;
    const updated = await q.get<UserRow>(`UPDATE users SET ${sets.join(', ')}, updated_at = ? WHERE id = ? RETURNING *`, [...params, now, user.id]);
    await appendAudit(q, ctx, { type: 'user.updated', outcome: 'success', actorKind: 'admin', actor: actor.username, subject: user.username, details: changed });
    // An inactive user gets nothing online (DESIGN §3): its temporary code goes with the deactivation.
    if (patch.status === 'inactive' && user.status === 'active') {
      await revokeTemporaryCode(q, ctx, user, { reason: 'user-deactivated', actorKind: 'admin', actor: actor.username });
    }
    return updated!;
  });
}

export async function unlockUser(ctx: ServerContext, actor: Actor, username: string): Promise<UserRow> {
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
      details: { wasLocked, failures: Number(user.failures), lockPeriods: Number(user.lock_periods), wasLockedPermanently: user.locked_permanently === 1 },
    });
    return (await requireUser(q, username))!;
  });
}

/**
 * Enrolls (or replaces) the user's TOTP token and returns its otpauth URI, the only time the seed leaves the server.
 * A new token means new offline data (token_generation) and, by default policy, the end of any temporary code
 * (Imprivata: temporary codes go when the user is back on the normal factor).
 */
export async function enrollToken(ctx: ServerContext, actor: Actor, username: string, params: { algorithm?: TotpAlgorithm; digits?: 6 | 8 }): Promise<{ otpauthUri: string; algorithm: TotpAlgorithm; digits: 6 | 8; period: number }> {
  const totp = { ...DEFAULT_TOTP, ...params };
  const secret = newTotpSecret();
  const now = ctx.clock.now();
  const label = await ctx.db.tx(async (q) => {
    const user = await requireUser(q, username);
    const policy = await policyForUser(q, user);
    if (!policy.enrollmentAllowed) throw new LifelineError('policy_violation', 'The user’s policy does not allow enrolling a token.', 403);
    const sealed = encryptSecret(ctx, `token:${user.id}`, Buffer.from(secret, 'utf8'));
    await q.run(
      `INSERT INTO tokens (user_id, seed_enc, algorithm, digits, period, last_step, enrolled_at, enrolled_by) VALUES (?, ?, ?, ?, ?, -1, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET seed_enc = excluded.seed_enc, algorithm = excluded.algorithm, digits = excluded.digits,
         period = excluded.period, last_step = -1, enrolled_at = excluded.enrolled_at, enrolled_by = excluded.enrolled_by`,
      [user.id, sealed, totp.algorithm, totp.digits, totp.period, now, actor.username],
    );
    await q.run('UPDATE users SET token_generation = token_generation + 1, updated_at = ? WHERE id = ?', [now, user.id]);
    await appendAudit(q, ctx, { type: 'token.enrolled', outcome: 'success', actorKind: 'admin', actor: actor.username, subject: user.username, details: { algorithm: totp.algorithm, digits: totp.digits } });
    if (policy.temporaryCodes.revokeOnTokenSuccess) await revokeTemporaryCode(q, ctx, user, { reason: 'token-enrolled', actorKind: 'admin', actor: actor.username });
    await notifyUser(q, ctx, { userId: user.id, username: user.username, kind: 'token-enrolled', details: { by: actor.username } });
    return user.username;
  });
  return { otpauthUri: otpauthUri(secret, TOTP_ISSUER, label, totp), algorithm: totp.algorithm, digits: totp.digits, period: totp.period };
}

/** The stolen-device case: the enrollment goes, and agents drop the token's offline windows at their next sync. */
export async function deleteToken(ctx: ServerContext, actor: Actor, username: string): Promise<void> {
  const now = ctx.clock.now();
  await ctx.db.tx(async (q) => {
    const user = await requireUser(q, username);
    const removed = await q.run('DELETE FROM tokens WHERE user_id = ?', [user.id]);
    if (removed.changes === 0) throw new LifelineError('not_found', 'The user has no enrolled token.', 404);
    await q.run('UPDATE users SET token_generation = token_generation + 1, updated_at = ? WHERE id = ?', [now, user.id]);
    await appendAudit(q, ctx, { type: 'token.deleted', outcome: 'success', actorKind: 'admin', actor: actor.username, subject: user.username });
    await notifyUser(q, ctx, { userId: user.id, username: user.username, kind: 'token-deleted', details: { by: actor.username } });
  });
}

export const PIN_MAX = 64;

export async function setPin(ctx: ServerContext, actor: Actor, username: string, pin: string): Promise<void> {
  const user = await requireUser(ctx.db, username);
  const policy = await policyForUser(ctx.db, user);
  const length = [...pin.normalize('NFC')].length;
  if (length < policy.pin.minLength) throw new LifelineError('policy_violation', `The PIN must have at least ${policy.pin.minLength} characters.`, 400);
  if (length > PIN_MAX || /[\p{C}]/u.test(pin)) throw new LifelineError('validation_failed', `A PIN has at most ${PIN_MAX} printable characters.`, 400);
  const { hash, salt } = await hashPin(ctx, pin);
  const now = ctx.clock.now();
  await ctx.db.tx(async (q) => {
    const changed = await q.run('UPDATE users SET pin_hash = ?, pin_salt = ?, pin_generation = pin_generation + 1, updated_at = ? WHERE id = ?', [hash, salt, now, user.id]);
    if (changed.changes === 0) throw new LifelineError('not_found', 'No such user.', 404);
    await appendAudit(q, ctx, { type: 'pin.set', outcome: 'success', actorKind: 'admin', actor: actor.username, subject: user.username });
    await notifyUser(q, ctx, { userId: user.id, username: user.username, kind: 'pin-set', details: { by: actor.username } });
  });
}
