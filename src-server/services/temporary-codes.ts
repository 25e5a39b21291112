import { formatCode, type Purpose } from '../../src-shared/codes.js';
import { randomCrockford } from '../../src-shared/crypto/random.js';
import { LifelineError } from '../../src-shared/errors.js';
import type { EnterpriseSettings, Policy } from '../../src-shared/policy.js';
import type { ServerContext } from '../context.js';
import type { Queryable } from '../db/port.js';
import { appendAudit, auditRevocation, type AuditEvent } from './audit.js';
import { hashCode } from './code-hash.js';
import { notifyUser, type Notification } from './notifier.js';
import { loadSettings, policyForUser } from './policy.js';
import { hitRateLimit } from './rate-limit.js';
import { requireUser, type UserRow } from './users.js';

/**
 * Helpdesk-issued temporary codes (DESIGN §2-3; Imprivata, Salesforce and Mosaic seeds): one active per user,
 * single-use or multi-use until expiry, shown once and stored only as a code hash, at most `maxPerHour` issued per
 * user per hour, revocable, replaced by issuing again, revoked when the user next succeeds with the normal token.
 */
export interface TemporaryCodeRow {
  id: number;
  user_id: number;
  code_hash: Buffer;
  code_length: number;
  multi_use: number;
  purposes: string;
  pin_required: number;
  issued_at: number;
  issued_by: string;
  expires_at: number;
  used_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
  revoke_reason: string | null;
}

export interface IssueTemporaryCodeInput {
  expiresInMinutes?: number;
  multiUse?: boolean;
  purposes?: Purpose[];
}

export interface IssuedTemporaryCode {
  code: string; // formatted in groups of four, the only time it exists outside the request
  expiresAt: number;
  multiUse: boolean;
  purposes: Purpose[];
  pinRequired: boolean;
  replaced: boolean;
}

const HOUR = 3_600_000;

export function rateLimitKey(userId: number): string {
  return `temporary-code:${userId}`;
}

/** The terms of a new code under the policy, or the stable error saying which rule it breaks. */
function termsUnderPolicy(policy: Policy, user: UserRow, input: IssueTemporaryCodeInput): { lifetimeMinutes: number; multiUse: boolean; purposes: Purpose[]; pinRequired: boolean } {
  const t = policy.temporaryCodes;
  if (!t.allowed) throw new LifelineError('not_eligible', "The user's policy does not allow temporary codes.", 403);
  const lifetimeMinutes = input.expiresInMinutes ?? t.defaultLifetimeMinutes;
  if (lifetimeMinutes < t.minLifetimeMinutes || lifetimeMinutes > t.maxLifetimeMinutes) {
    throw new LifelineError('policy_violation', `The lifetime must be between ${t.minLifetimeMinutes} and ${t.maxLifetimeMinutes} minutes under the user's policy.`, 400);
  }
  const multiUse = input.multiUse ?? false;
  if (multiUse && !t.multiUseAllowed) throw new LifelineError('policy_violation', "The user's policy allows single-use temporary codes only.", 400);
  const purposes = input.purposes ? [...new Set(input.purposes)] : [...t.purposes];
  const refused = purposes.filter((p) => !t.purposes.includes(p));
  if (refused.length > 0) throw new LifelineError('policy_violation', `The user's policy does not allow temporary codes for: ${refused.join(', ')}.`, 400);
  // A policy without PINs (contractors) needs none with its codes either; otherwise the code's own switch decides.
  const pinRequired = policy.pin.required && t.pinRequired;
  if (pinRequired && user.pin_hash === null) {
    throw new LifelineError('not_eligible', "The user's policy needs the PIN with a temporary code and the user has no PIN yet: set one first.", 403);
  }
  return { lifetimeMinutes, multiUse, purposes, pinRequired };
}

export async function issueTemporaryCode(ctx: ServerContext, actor: string, username: string, input: IssueTemporaryCodeInput): Promise<IssuedTemporaryCode> {
  const { user, policy } = await userToIssueFor(ctx, username, 'temporaryCodesEnabled', 'Temporary codes');
  const terms = termsUnderPolicy(policy, user, input);
  const t = policy.temporaryCodes;

  const code = randomCrockford(t.codeLength);
  const hash = await hashCode(ctx, user.code_salt, code); // slow work before the transaction
  const issuedAt = ctx.clock.now();
  const expiresAt = issuedAt + terms.lifetimeMinutes * 60_000;

  const replaced = await ctx.db.tx(async (q) => {
    await lockUserStillActive(q, user.id, issuedAt);
    // Counted inside the transaction: a refused or failed issue does not use up one of the hour's codes.
    const limit = await hitRateLimit(q, rateLimitKey(user.id), t.maxPerHour, HOUR, issuedAt);
    if (!limit.allowed) {
      throw new LifelineError('rate_limited', `At most ${t.maxPerHour} temporary codes can be issued per user per hour.`, 429, { retryAfterSeconds: limit.retryAfterSeconds });
    }
    const old = await q.all<{ id: number }>(
      "UPDATE temporary_codes SET revoked_at = ?, revoke_reason = 'replaced' WHERE user_id = ? AND revoked_at IS NULL AND used_at IS NULL RETURNING id",
      [issuedAt, user.id],
    );
    // The partial unique index temporary_codes_one_active refuses a second active code if two issues race.
    await q.run(
      `INSERT INTO temporary_codes (user_id, code_hash, code_length, multi_use, purposes, pin_required, issued_at, issued_by, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [user.id, hash, code.length, terms.multiUse ? 1 : 0, JSON.stringify(terms.purposes), terms.pinRequired ? 1 : 0, issuedAt, actor, expiresAt],
    );
    const wasReplace = old.length > 0;
    await recordIssue(q, ctx, user, actor, {
      auditType: 'temporary-code',
      replaced: wasReplace,
      details: { expiresAt, multiUse: terms.multiUse, purposes: terms.purposes.join(','), pinRequired: terms.pinRequired },
      notice: 'temporary-code-issued',
      noticeDetails: { expiresAt: new Date(expiresAt).toISOString(), issuedBy: actor, use: terms.multiUse ? 'multiple times until expiry' : 'once' },
    });
    return wasReplace;
  });
  return { code: formatCode(code), expiresAt, multiUse: terms.multiUse, purposes: terms.purposes, pinRequired: terms.pinRequired, replaced };
}

// What issuing a temporary code and issuing an emergency set (emergency-codes.ts) have in common.

function inactiveUser(): LifelineError {
  return new LifelineError('user_inactive', 'No code can be issued for an inactive user.', 409);
}

/**
 * The user a new temporary code or emergency set is for, with the user's policy, or the stable error why none can be
 * issued: that kind of code is switched off for the enterprise (`enabledBy`; `kindName` says which in the refusal),
 * or the user is inactive.
 */
export async function userToIssueFor(
  ctx: ServerContext,
  username: string,
  enabledBy: keyof Pick<EnterpriseSettings, 'temporaryCodesEnabled' | 'emergencyCodesEnabled'>,
  kindName: string,
): Promise<{ user: UserRow; policy: Policy }> {
  const user = await requireUser(ctx.db, username);
  const settings = await loadSettings(ctx.db);
  if (!settings[enabledBy]) throw new LifelineError('feature_disabled', `${kindName} are disabled for this enterprise.`, 403);
  if (user.status !== 'active') throw inactiveUser();
  return { user, policy: await policyForUser(ctx.db, user) };
}

/**
 * Re-checks inside the issuing transaction that the user is still active, with a guarded UPDATE that also holds the
 * user's row until commit: concurrent issues for one user (temporary code or emergency set) then run one after the
 * other on PostgreSQL too, instead of the later one failing on a unique index.
 */
export async function lockUserStillActive(q: Queryable, userId: number, now: number): Promise<void> {
  if ((await q.run("UPDATE users SET updated_at = ? WHERE id = ? AND status = 'active'", [now, userId])).changes !== 1) throw inactiveUser();
}

/**
 * Audits an admin's issue (`<auditType>.issue`, or `<auditType>.replace` when it revoked the user's live codes) and
 * tells the user, inside the issuing transaction so both exist exactly when the new codes do.
 */
export async function recordIssue(
  q: Queryable,
  ctx: ServerContext,
  user: Pick<UserRow, 'id' | 'username'>,
  actor: string,
  issue: { auditType: string; replaced: boolean; details: AuditEvent['details']; notice: Notification['kind']; noticeDetails: Notification['details'] },
): Promise<void> {
  await appendAudit(q, ctx, {
    type: `${issue.auditType}.${issue.replaced ? 'replace' : 'issue'}`,
    outcome: 'success',
    actorKind: 'admin',
    actor,
    subject: user.username,
    details: issue.details,
  });
  await notifyUser(q, ctx, { userId: user.id, username: user.username, kind: issue.notice, details: issue.noticeDetails });
}

/**
 * Revokes the user's active temporary code, if any, and audits it. Used by the admin DELETE, by a normal-token
 * success (policy `revokeOnTokenSuccess`) and by a token enrollment; call it inside the caller's transaction.
 */
export async function revokeTemporaryCode(
  q: Queryable,
  ctx: Pick<ServerContext, 'clock' | 'audit'>,
  user: Pick<UserRow, 'id' | 'username'>,
  why: { reason: 'admin' | 'token-success' | 'token-enrolled' | 'user-deactivated'; actorKind: 'admin' | 'client' | 'device' | 'radius' | 'system'; actor?: string },
): Promise<boolean> {
  const now = ctx.clock.now();
  const revoked = await q.all<{ id: number }>(
    'UPDATE temporary_codes SET revoked_at = ?, revoke_reason = ? WHERE user_id = ? AND revoked_at IS NULL AND used_at IS NULL RETURNING id',
    [now, why.reason, user.id],
  );
  if (revoked.length === 0) return false;
  await auditRevocation(q, ctx, 'temporary-code.revoke', user.username, why);
  return true;
}

/** The active (unrevoked, unused, unexpired) code of a user, as the verifier and the console's status see it. */
export async function activeTemporaryCode(q: Queryable, userId: number, now: number): Promise<TemporaryCodeRow | undefined> {
  return q.get<TemporaryCodeRow>(
    'SELECT * FROM temporary_codes WHERE user_id = ? AND revoked_at IS NULL AND used_at IS NULL AND expires_at > ?',
    [userId, now],
  );
}

/** What an admin may see of the active code: never the code, only its terms. */
export function temporaryCodeSummary(row: TemporaryCodeRow): { expiresAt: number; multiUse: boolean; purposes: Purpose[]; pinRequired: boolean; issuedAt: number; issuedBy: string } {
  return {
    expiresAt: Number(row.expires_at),
    multiUse: Number(row.multi_use) === 1,
    purposes: JSON.parse(row.purposes) as Purpose[],
    pinRequired: Number(row.pin_required) === 1,
    issuedAt: Number(row.issued_at),
    issuedBy: row.issued_by,
  };
}

/**
 * Consumes the code for one successful verification: a single-use code exactly once (zero rows changed = another
 * request won), a multi-use one while it stays active and unexpired.
 */
export async function consumeTemporaryCode(q: Queryable, row: Pick<TemporaryCodeRow, 'id' | 'multi_use'>, now: number): Promise<boolean> {
  const sql =
    Number(row.multi_use) === 1
      ? 'UPDATE temporary_codes SET last_used_at = ? WHERE id = ? AND revoked_at IS NULL AND used_at IS NULL AND expires_at > ?'
      : 'UPDATE temporary_codes SET used_at = ?, last_used_at = ? WHERE id = ? AND revoked_at IS NULL AND used_at IS NULL AND expires_at > ?';
  const params = Number(row.multi_use) === 1 ? [now, row.id, now] : [now, now, row.id, now];
  return (await q.run(sql, params)).changes === 1;
}
