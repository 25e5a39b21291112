import { formatCode, type Purpose } from '../../src-shared/codes.js';
import { randomCrockford } from '../../src-shared/crypto/random.js';
import { LifelineError } from '../../src-shared/errors.js';
import type { EnterpriseSettings, Policy } from '../../src-shared/policy.js';
import type { ServerContext } from '../context.js';
import type { Queryable } from '../db/port.js';
import {
  insertTemporaryCode,
  revokeUserTemporaryCodes,
  type TemporaryCodeRecord,
} from '../db/queries/temporary-codes.js';
import { touchActiveUser, type UserRecord } from '../db/queries/users.js';
import { appendAudit, auditRevocation, type AuditEvent } from './audit.js';
import { hashCode } from './code-hash.js';
import { notifyUser, type Notification } from './notifier.js';
import { loadSettings, policyForUser } from './policy.js';
import { hitRateLimit } from './rate-limit.js';
import { requireUser } from './users.js';

/**
 * Helpdesk-issued temporary codes (docs/design.md §2–§3; Imprivata, Salesforce and Mosaic seeds): one active per user,
 * single-use or multi-use until expiry, shown once and stored only as a code hash, at most `maxPerHour` issued per
 * user per hour, revocable, replaced by issuing again, revoked when the user next succeeds with the normal token.
 */
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

/** The active (unrevoked, unused, unexpired) code of a user, as the verifier and the console's status see it. */
export { activeTemporaryCode } from '../db/queries/temporary-codes.js';

const HOUR = 3_600_000;

export function rateLimitKey(userId: number): string {
  return `temporary-code:${userId}`;
}

/** The terms of a new code under the policy, or the stable error saying which rule it breaks. */
function termsUnderPolicy(
  policy: Policy,
  user: UserRecord,
  input: IssueTemporaryCodeInput,
): { lifetimeMinutes: number; multiUse: boolean; purposes: Purpose[]; pinRequired: boolean } {
  const t = policy.temporaryCodes;
  if (!t.allowed) throw new LifelineError('not_eligible', "The user's policy does not allow temporary codes.", 403);
  const lifetimeMinutes = input.expiresInMinutes ?? t.defaultLifetimeMinutes;
  if (lifetimeMinutes < t.minLifetimeMinutes || lifetimeMinutes > t.maxLifetimeMinutes) {
    throw new LifelineError(
      'policy_violation',
      `The lifetime must be between ${t.minLifetimeMinutes} and ${t.maxLifetimeMinutes} minutes under the user's policy.`,
      400,
    );
  }
  const multiUse = input.multiUse ?? false;
  if (multiUse && !t.multiUseAllowed)
    throw new LifelineError('policy_violation', "The user's policy allows single-use temporary codes only.", 400);
  const purposes = input.purposes ? [...new Set(input.purposes)] : [...t.purposes];
  const refused = purposes.filter((p) => !t.purposes.includes(p));
  if (refused.length > 0)
    throw new LifelineError(
      'policy_violation',
      `The user's policy does not allow temporary codes for: ${refused.join(', ')}.`,
      400,
    );
  // A policy without PINs (contractors) needs none with its codes either; otherwise the code's own switch decides.
  const pinRequired = policy.pin.required && t.pinRequired;
  if (pinRequired && user.pinHash === null) {
    throw new LifelineError(
      'not_eligible',
      "The user's policy needs the PIN with a temporary code and the user has no PIN yet: set one first.",
      403,
    );
  }
  return { lifetimeMinutes, multiUse, purposes, pinRequired };
}

export async function issueTemporaryCode(
  ctx: ServerContext,
  actor: string,
  username: string,
  input: IssueTemporaryCodeInput,
): Promise<IssuedTemporaryCode> {
  const { user, policy } = await userToIssueFor(ctx, username, 'temporaryCodesEnabled', 'Temporary codes');
  const terms = termsUnderPolicy(policy, user, input);
  const t = policy.temporaryCodes;

  const code = randomCrockford(t.codeLength);
  const hash = await hashCode(ctx, user.codeSalt, code); // slow work before the transaction
  const issuedAt = ctx.clock.now();
  const expiresAt = issuedAt + terms.lifetimeMinutes * 60_000;

  const replaced = await ctx.db.tx(async (q) => {
    await lockUserStillActive(q, user.id, issuedAt);
    // Counted inside the transaction: a refused or failed issue does not use up one of the hour's codes.
    const limit = await hitRateLimit(q, rateLimitKey(user.id), t.maxPerHour, HOUR, issuedAt);
    if (!limit.allowed) {
      throw new LifelineError(
        'rate_limited',
        `At most ${t.maxPerHour} temporary codes can be issued per user per hour.`,
        429,
        { retryAfterSeconds: limit.retryAfterSeconds },
      );
    }
    const old = await revokeUserTemporaryCodes(q, user.id, 'replaced', issuedAt);
    // The partial unique index temporary_codes_one_active refuses a second active code if two issues race.
    await insertTemporaryCode(q, {
      userId: user.id,
      codeHash: hash,
      codeLength: code.length,
      multiUse: terms.multiUse,
      purposes: terms.purposes,
      pinRequired: terms.pinRequired,
      issuedAt,
      issuedBy: actor,
      expiresAt,
    });
    const wasReplace = old > 0;
    await recordIssue(q, ctx, user, actor, {
      auditType: 'temporary-code',
      replaced: wasReplace,
      details: {
        expiresAt,
        multiUse: terms.multiUse,
        purposes: terms.purposes.join(','),
        pinRequired: terms.pinRequired,
      },
      notice: 'temporary-code-issued',
      noticeDetails: {
        expiresAt: new Date(expiresAt).toISOString(),
        issuedBy: actor,
        use: terms.multiUse ? 'multiple times until expiry' : 'once',
      },
    });
    return wasReplace;
  });
  return {
    code: formatCode(code),
    expiresAt,
    multiUse: terms.multiUse,
    purposes: terms.purposes,
    pinRequired: terms.pinRequired,
    replaced,
  };
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
): Promise<{ user: UserRecord; policy: Policy }> {
  const user = await requireUser(ctx.db, username);
  const settings = await loadSettings(ctx.db);
  if (!settings[enabledBy])
    throw new LifelineError('feature_disabled', `${kindName} are disabled for this enterprise.`, 403);
  if (user.status !== 'active') throw inactiveUser();
  return { user, policy: await policyForUser(ctx.db, user) };
}

/**
 * Re-checks inside the issuing transaction that the user is still active, with a guarded UPDATE that also holds the
 * user's row until commit: concurrent issues for one user (temporary code or emergency set) then run one after the
 * other on PostgreSQL too, instead of the later one failing on a unique index.
 */
export async function lockUserStillActive(q: Queryable, userId: number, now: number): Promise<void> {
  if (!(await touchActiveUser(q, userId, now))) throw inactiveUser();
}

/**
 * Audits an admin's issue (`<auditType>.issue`, or `<auditType>.replace` when it revoked the user's live codes) and
 * tells the user, inside the issuing transaction so both exist exactly when the new codes do.
 */
export async function recordIssue(
  q: Queryable,
  ctx: ServerContext,
  user: Pick<UserRecord, 'id' | 'username'>,
  actor: string,
  issue: {
    auditType: string;
    replaced: boolean;
    details: AuditEvent['details'];
    notice: Notification['kind'];
    noticeDetails: Notification['details'];
  },
): Promise<void> {
  await appendAudit(q, ctx, {
    type: `${issue.auditType}.${issue.replaced ? 'replace' : 'issue'}`,
    outcome: 'success',
    actorKind: 'admin',
    actor,
    subject: user.username,
    details: issue.details,
  });
  await notifyUser(q, ctx, {
    userId: user.id,
    username: user.username,
    kind: issue.notice,
    details: issue.noticeDetails,
  });
}

/**
 * Revokes the user's active temporary code, if any, and audits it. Used by the admin DELETE, by a normal-token
 * success (policy `revokeOnTokenSuccess`) and by a token enrollment; call it inside the caller's transaction.
 */
export async function revokeTemporaryCode(
  q: Queryable,
  ctx: Pick<ServerContext, 'clock' | 'audit'>,
  user: Pick<UserRecord, 'id' | 'username'>,
  why: {
    reason: 'admin' | 'token-success' | 'token-enrolled' | 'user-deactivated';
    actorKind: 'admin' | 'client' | 'device' | 'radius' | 'system';
    actor?: string;
  },
): Promise<boolean> {
  const now = ctx.clock.now();
  if ((await revokeUserTemporaryCodes(q, user.id, why.reason, now)) === 0) return false;
  await auditRevocation(q, ctx, 'temporary-code.revoke', user.username, why);
  return true;
}

/** What an admin may see of the active code: never the code, only its terms. */
export function temporaryCodeSummary(row: TemporaryCodeRecord): {
  expiresAt: number;
  multiUse: boolean;
  purposes: Purpose[];
  pinRequired: boolean;
  issuedAt: number;
  issuedBy: string;
} {
  return {
    expiresAt: row.expiresAt,
    multiUse: row.multiUse,
    purposes: row.purposes,
    pinRequired: row.pinRequired,
    issuedAt: row.issuedAt,
    issuedBy: row.issuedBy,
  };
}
