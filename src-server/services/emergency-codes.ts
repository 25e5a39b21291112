import { CODE_LENGTHS, formatCode } from '../../src-shared/codes.js';
import { randomCrockford } from '../../src-shared/crypto/random.js';
import { LifelineError } from '../../src-shared/errors.js';
import type { ServerContext } from '../context.js';
import type { Queryable } from '../db/port.js';
import {
  consumeEmergencyCode,
  countUnusedEmergencyCodes,
  emergencyCodeCounts,
  insertEmergencyCode,
  unusedEmergencyCodes,
  type EmergencyCodeCandidate,
} from '../db/queries/emergency-codes.js';
import {
  insertEmergencySet,
  liveEmergencySet,
  voidLiveEmergencySet,
  type EmergencySetRecord,
  type TokenBehaviour,
} from '../db/queries/emergency-sets.js';
import type { UserRecord } from '../db/queries/users.js';
import { auditRevocation } from './audit.js';
import { hashCode } from './code-hash.js';
import { lockUserStillActive, recordIssue, userToIssueFor } from './temporary-codes.js';

/**
 * Sets of one-time emergency codes (RSA online emergency access seed): N codes of 8 Crockford characters, each usable
 * once, optionally expiring, with the PIN when the policy requires one, online only. A new set voids the old one.
 * What happens to the user's normal token while a set is live is the set's token behaviour (docs/design.md §3):
 *   deny-token               the token is refused while any code of the set is unused and unexpired;
 *   allow-and-disable-codes  a token success voids the set;
 *   allow-after-codes-expire the token is refused until the set expires (so the set must expire).
 */
export type { TokenBehaviour };
/** Kept here for the callers (and tests) that burn a code: the statement itself is db/queries/emergency-codes.ts. */
export { consumeEmergencyCode, liveEmergencySet };

export interface IssueEmergencyInput {
  count: number;
  /** Omitted: the policy's default; null: no expiry. */
  expiresInHours?: number | null;
  tokenBehaviour?: TokenBehaviour;
}

export interface IssuedEmergencySet {
  codes: string[];
  expiresAt: number | null;
  tokenBehaviour: TokenBehaviour;
  pinRequired: boolean;
  replaced: boolean;
}

export async function issueEmergencySet(
  ctx: ServerContext,
  actor: string,
  username: string,
  input: IssueEmergencyInput,
): Promise<IssuedEmergencySet> {
  const { user, policy } = await userToIssueFor(ctx, username, 'emergencyCodesEnabled', 'Emergency codes');
  const e = policy.emergencyCodes;
  if (input.count > e.maxCount)
    throw new LifelineError(
      'policy_violation',
      `At most ${e.maxCount} emergency codes per set under the user's policy.`,
      400,
    );
  const expiresInHours = input.expiresInHours === undefined ? e.defaultExpiresInHours : input.expiresInHours;
  const tokenBehaviour = input.tokenBehaviour ?? e.tokenBehaviour;
  if (tokenBehaviour === 'allow-after-codes-expire' && expiresInHours === null) {
    throw new LifelineError(
      'policy_violation',
      "'allow-after-codes-expire' needs a set that expires: give expiresInHours.",
      400,
    );
  }
  if (policy.pin.required && user.pinHash === null) {
    throw new LifelineError(
      'not_eligible',
      "The user's policy needs the PIN with emergency codes and the user has no PIN yet: set one first.",
      403,
    );
  }

  const codes = distinctCodes(input.count);
  const hashes = await Promise.all(codes.map((c) => hashCode(ctx, user.codeSalt, c)));
  const issuedAt = ctx.clock.now();
  const expiresAt = expiresInHours === null ? null : issuedAt + expiresInHours * 3_600_000;

  const replaced = await ctx.db.tx(async (q) => {
    await lockUserStillActive(q, user.id, issuedAt);
    const old = await voidLiveSet(q, user.id, issuedAt, 'replaced');
    // emergency_sets_one_live refuses a second live set if two issues race.
    const setId = await insertEmergencySet(q, {
      userId: user.id,
      issuedAt,
      issuedBy: actor,
      expiresAt,
      tokenBehaviour,
    });
    for (const h of hashes) await insertEmergencyCode(q, setId, h);
    await recordIssue(q, ctx, user, actor, {
      auditType: 'emergency-codes',
      replaced: old,
      details: { count: codes.length, expiresAt, tokenBehaviour, pinRequired: policy.pin.required },
      notice: 'emergency-codes-issued',
      noticeDetails: {
        count: codes.length,
        expiresAt: expiresAt === null ? 'never' : new Date(expiresAt).toISOString(),
        issuedBy: actor,
      },
    });
    return old;
  });
  return {
    codes: codes.map((c) => formatCode(c)),
    expiresAt,
    tokenBehaviour,
    pinRequired: policy.pin.required,
    replaced,
  };
}

/** N different codes (a repeat within a set would let one typed code burn two entries). */
function distinctCodes(n: number): string[] {
  const set = new Set<string>();
  while (set.size < n) set.add(randomCrockford(CODE_LENGTHS.emergency));
  return [...set];
}

function voidLiveSet(q: Queryable, userId: number, now: number, reason: string): Promise<boolean> {
  return voidLiveEmergencySet(q, userId, reason, now);
}

/**
 * Voids the user's live set, if any, and audits it: the admin's revoke, or a token success under
 * `allow-and-disable-codes`. Call it inside the caller's transaction.
 */
export async function voidEmergencySet(
  q: Queryable,
  ctx: Pick<ServerContext, 'clock' | 'audit'>,
  user: Pick<UserRecord, 'id' | 'username'>,
  why: {
    reason: 'admin' | 'token-success';
    actorKind: 'admin' | 'client' | 'device' | 'radius' | 'system';
    actor?: string;
  },
): Promise<boolean> {
  if (!(await voidLiveSet(q, user.id, ctx.clock.now(), why.reason))) return false;
  await auditRevocation(q, ctx, 'emergency-codes.void', user.username, why);
  return true;
}

export function setExpired(set: Pick<EmergencySetRecord, 'expiresAt'>, now: number): boolean {
  return set.expiresAt !== null && set.expiresAt <= now;
}

/** Unused codes of the live set while it has not expired: the candidates a typed code is compared with. */
export async function usableEmergencyCodes(
  q: Queryable,
  set: EmergencySetRecord | undefined,
  now: number,
): Promise<EmergencyCodeCandidate[]> {
  if (!set || setExpired(set, now)) return [];
  return unusedEmergencyCodes(q, set.id);
}

/**
 * Whether the live set keeps the user's normal token from working right now, and why (for the audit reason).
 * Evaluated inside the verification's transaction.
 */
export async function tokenBlockedBySet(q: Queryable, userId: number, now: number): Promise<string | undefined> {
  const set = await liveEmergencySet(q, userId);
  if (!set || setExpired(set, now)) return undefined;
  if (set.tokenBehaviour === 'allow-after-codes-expire') return 'token_refused_until_emergency_set_expires';
  if (set.tokenBehaviour === 'deny-token' && (await countUnusedEmergencyCodes(q, set.id)) > 0)
    return 'token_refused_while_emergency_codes_unused';
  return undefined;
}

/** What an admin may see of the live set: counts and terms, never the codes. */
export async function emergencySetSummary(
  q: Queryable,
  userId: number,
  now: number,
): Promise<
  | {
      issuedAt: number;
      expiresAt: number | null;
      expired: boolean;
      tokenBehaviour: TokenBehaviour;
      total: number;
      unused: number;
    }
  | undefined
> {
  const set = await liveEmergencySet(q, userId);
  if (!set) return undefined;
  const { total, unused } = await emergencyCodeCounts(q, set.id);
  return {
    issuedAt: set.issuedAt,
    expiresAt: set.expiresAt,
    expired: setExpired(set, now),
    tokenBehaviour: set.tokenBehaviour,
    total,
    unused,
  };
}
