import { normalizeCode, type CodeMethod, type Purpose } from '../../src-shared/codes.js';
import type { Policy } from '../../src-shared/policy.js';
import type { ServerContext } from '../context.js';
import type { Queryable } from '../db/port.js';
import { consumeEmergencyCode } from '../db/queries/emergency-codes.js';
import { consumeTemporaryCode } from '../db/queries/temporary-codes.js';
import { advanceTokenStep } from '../db/queries/tokens.js';
import type { UserRecord } from '../db/queries/users.js';
import { appendAudit, type AuditEvent } from './audit.js';
import { liveEmergencySet, setExpired, tokenBlockedBySet, voidEmergencySet } from './emergency-codes.js';
import {
  BUSY_RETRY_SECONDS,
  countFailure,
  releaseSlot,
  reserveAttempt,
  resetFailures,
  type LockSubject,
  type Slot,
} from './lockout.js';
import { policyForUser } from './policy.js';
import { revokeTemporaryCode } from './temporary-codes.js';
import { findUserByUsername, tryNormalizeUsername } from './users.js';
import {
  gatherEvidence,
  methodOf,
  pinRequiredFor,
  purposesFor,
  spendLikeAVerification,
  type ExtraCandidateSource,
  type Match,
} from './verification-evidence.js';

export type { ExtraCandidate, ExtraCandidateSource } from './verification-evidence.js';

/**
 * The one place a second factor is decided online: `POST /api/v1/verify`, `POST /api/v1/devices/login` and RADIUS
 * all call verifyCode. In order:
 *  1. the attempt takes a place before anything is compared (lockout.ts): a locked user gets `locked`, an attempt
 *     that finds every place taken by others in flight gets `busy` (retryable, not counted);
 *  2. unknown or inactive user → the same `invalid_code` as a wrong code, after the same work (reason in audit),
 *     counted by name exactly as a user's failures are, so the answers at the lockout threshold are the same too;
 *  3. outside any transaction: the typed code is derived once (code-hash.ts) and compared with the temporary code
 *     and every code of the emergency set; the token code is compared for steps now±1; the PIN is checked; all of
 *     it always, so timing does not say which kind matched or whether the PIN was right;
 *  4. in one transaction: the place is given back, the matching code is consumed by a guarded statement (token
 *     step only upwards, single-use codes once), counters reset (or the failure counted), the temporary code revoked
 *     after a token success (policy), the audit row written.
 * PIN and code are judged together: a wrong PIN with a right code is a failure that burns nothing, and the caller
 * is never told which of the two was wrong. `purpose_not_allowed` is only ever said when both were right.
 */
export type VerifyChannel = { kind: 'client' | 'device' | 'radius'; id: string };

export interface VerifyRequest {
  username: string;
  code: string;
  pin?: string;
  purpose: Purpose;
  channel: VerifyChannel;
  device?: string;
  /** More codes this caller may accept (devices/login: an offline emergency code online, when the policy allows it). */
  extraCandidates?: ExtraCandidateSource;
}

export type VerifyResult =
  | {
      ok: true;
      method: CodeMethod;
      user: UserRecord;
      temporary?: { multiUse: boolean; expiresAt: number };
      tokenStep?: number;
    }
  | { ok: false; error: 'invalid_code' }
  | { ok: false; error: 'locked'; retryAfterSeconds: number; /** only an admin can unlock */ permanent: boolean }
  /** Other attempts of this user are being checked and hold every place: nothing was checked or counted. */
  | { ok: false; error: 'busy'; retryAfterSeconds: number }
  | { ok: false; error: 'purpose_not_allowed' };

const INVALID = { ok: false, error: 'invalid_code' } as const;
/** The answer of an attempt that outlived its place (lockout.ts, ATTEMPT_LEASE_MS): its outcome is not revealed. */
const OUTLIVED = { ok: false, error: 'busy', retryAfterSeconds: BUSY_RETRY_SECONDS } as const;

export async function verifyCode(ctx: ServerContext, req: VerifyRequest): Promise<VerifyResult> {
  const typed = normalizeCode(req.code);
  const user = await findUserByUsername(ctx.db, req.username);
  const base = auditBase(req, user);
  const active = user?.status === 'active' ? user : undefined;
  const name = user?.username ?? tryNormalizeUsername(req.username);
  const notActive = user ? 'user_inactive' : 'unknown_user';

  if (!active && name === undefined) {
    // Not even a valid username: no user can have it, so there is no existence to hide and nothing to count.
    await spendLikeAVerification(ctx, typed, req.pin);
    await appendAudit(ctx.db, ctx, { ...base, outcome: 'failure', reason: notActive });
    return INVALID;
  }

  // An unknown name is judged under the default policy, as RADIUS reads it (radius/authenticate.ts).
  const policy = await policyForUser(ctx.db, user ?? { policyId: null });
  const subject: LockSubject = active ? { kind: 'user', id: active.id } : { kind: 'name', username: name! };
  const reservation = await reserveAttempt(ctx.db, subject, policy.lockout, ctx.clock.now());
  if (!reservation.allowed) {
    // Busy: nothing was checked, like an attempt the admission gate shed, so nothing is audited either.
    if (reservation.reason === 'busy')
      return { ok: false, error: 'busy', retryAfterSeconds: reservation.retryAfterSeconds };
    await appendAudit(ctx.db, ctx, {
      ...base,
      outcome: 'failure',
      reason: 'locked',
      details: { permanent: reservation.permanent },
    });
    return {
      ok: false,
      error: 'locked',
      retryAfterSeconds: reservation.retryAfterSeconds,
      permanent: reservation.permanent,
    };
  }
  const attempt: Attempt = { ctx, base, slot: reservation.slot, policy };

  // The place is taken (committed) from here on, so the check must finish: it waits for database connections
  // instead of failing with 503 (DatabaseBusyError), which would turn an overloaded server's retries into lockouts.
  return ctx.db.patiently(async () => {
    if (active) return checkReservedAttempt(attempt, req, active, typed);
    await failOnError(attempt, () => spendLikeAVerification(ctx, typed, req.pin));
    return recordFailure(attempt, notActive);
  });
}

/** One attempt holding its place: what its outcome is recorded with. */
interface Attempt {
  ctx: ServerContext;
  base: Omit<AuditEvent, 'outcome'>;
  slot: Slot;
  policy: Policy;
}

/** Runs `work`; when it throws, the attempt stays counted as a failure (an error must never be a free guess). */
async function failOnError<T>(attempt: Attempt, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    await recordFailure(attempt, 'internal_error');
    throw err;
  }
}

async function checkReservedAttempt(
  attempt: Attempt,
  req: VerifyRequest,
  user: UserRecord,
  typed: string,
): Promise<VerifyResult> {
  const { ctx, base, slot, policy } = attempt;
  const { match, pinOk } = await failOnError(attempt, () => gatherEvidence(ctx, req, user, policy, typed));
  // One reason for both: the audit log is read by helpdesk staff, and "wrong PIN" would tell whoever reads it (or
  // talks them round on the phone) that the code guessed with it was right.
  if (!match || (pinRequiredFor(match, policy) && !pinOk)) return recordFailure(attempt, 'wrong_pin_or_code');
  const method = methodOf(match);

  if (!purposesFor(match, policy).includes(req.purpose)) {
    // Both factors were right: the user proved possession, so the attempt does not count against them; nothing burns.
    return ctx.db.tx(async (q): Promise<VerifyResult> => {
      if (!(await releaseSlot(q, slot))) return outlived(q, attempt, method);
      await resetFailures(q, user.id, ctx.clock.now());
      await appendAudit(q, ctx, { ...base, method, outcome: 'failure', reason: 'purpose_not_allowed' });
      return { ok: false, error: 'purpose_not_allowed' };
    });
  }

  return ctx.db.tx(async (q): Promise<VerifyResult> => {
    const now = ctx.clock.now();
    if (!(await releaseSlot(q, slot))) return outlived(q, attempt, method);
    const refused = await consume(q, match, user, now);
    if (refused) return countedFailure(q, attempt, refused, method);
    await resetFailures(q, user.id, now);
    if (match.method === 'token') await afterTokenSuccess(q, ctx, user, policy, req.channel, now);
    const details =
      match.method === 'extra'
        ? match.candidate.auditDetails
        : match.method === 'token'
          ? { step: match.step }
          : undefined;
    await appendAudit(q, ctx, { ...base, method, outcome: 'success', ...(details ? { details } : {}) });
    const result: VerifyResult = { ok: true, method, user };
    if (match.method === 'temporary')
      result.temporary = { multiUse: match.row.multiUse, expiresAt: match.row.expiresAt };
    if (match.method === 'token') result.tokenStep = match.step;
    return result;
  });
}

function auditBase(req: VerifyRequest, user: UserRecord | undefined): Omit<AuditEvent, 'outcome'> {
  const subject = user?.username ?? tryNormalizeUsername(req.username);
  return {
    type: 'verify.attempt',
    actorKind: req.channel.kind,
    actor: req.channel.id,
    purpose: req.purpose,
    ...(subject !== undefined ? { subject } : {}),
    ...(req.device !== undefined ? { device: req.device } : {}),
  };
}

/** Consumes the matched code with one guarded statement; returns the failure reason when it may not be used. */
async function consume(q: Queryable, match: Match, user: UserRecord, now: number): Promise<string | undefined> {
  switch (match.method) {
    case 'token': {
      const blocked = await tokenBlockedBySet(q, user.id, now);
      if (blocked) return blocked;
      return (await advanceTokenStep(q, user.id, match.step)) ? undefined : 'replayed';
    }
    case 'temporary':
      return (await consumeTemporaryCode(q, match.row, now)) ? undefined : 'already_used';
    case 'emergency':
      return (await consumeEmergencyCode(q, match.codeId, now)) ? undefined : 'already_used';
    case 'extra':
      return (await match.candidate.consume(q, now)) ? undefined : 'already_used';
  }
}

/** Imprivata: back on the normal token, the temporary code goes (policy); RSA: `allow-and-disable-codes` voids the set. */
async function afterTokenSuccess(
  q: Queryable,
  ctx: ServerContext,
  user: UserRecord,
  policy: Policy,
  channel: VerifyChannel,
  now: number,
): Promise<void> {
  if (policy.temporaryCodes.revokeOnTokenSuccess) {
    await revokeTemporaryCode(q, ctx, user, { reason: 'token-success', actorKind: channel.kind, actor: channel.id });
  }
  const set = await liveEmergencySet(q, user.id);
  if (set && set.tokenBehaviour === 'allow-and-disable-codes' && !setExpired(set, now)) {
    await voidEmergencySet(q, ctx, user, { reason: 'token-success', actorKind: channel.kind, actor: channel.id });
  }
}

/** A failed attempt: its place given back and the failure counted, in one transaction with its audit row. */
async function recordFailure(attempt: Attempt, reason: string): Promise<VerifyResult> {
  return attempt.ctx.db.tx(async (q) =>
    (await releaseSlot(q, attempt.slot)) ? countedFailure(q, attempt, reason) : outlived(q, attempt, undefined, reason),
  );
}

/** Counts the failure (its place is already given back); audits it, and the lockout when it started one. */
async function countedFailure(
  q: Queryable,
  attempt: Attempt,
  reason: string,
  method?: CodeMethod,
): Promise<VerifyResult> {
  const { ctx, base, slot, policy } = attempt;
  await appendAudit(q, ctx, { ...base, outcome: 'failure', reason, ...(method ? { method } : {}) });
  const lock = await countFailure(q, slot.subject, policy.lockout, ctx.clock.now());
  if (lock.locked) {
    await appendAudit(q, ctx, {
      type: 'verify.lockout',
      outcome: 'info',
      actorKind: 'system',
      ...(base.subject !== undefined ? { subject: base.subject } : {}),
      reason: lock.permanent ? 'locked_until_admin_unlock' : 'too_many_failures',
      details: { permanent: lock.permanent, retryAfterSeconds: lock.retryAfterSeconds, lockPeriods: lock.lockPeriods },
    });
  }
  return INVALID;
}

/**
 * An attempt that outlived its place (lockout.ts, ATTEMPT_LEASE_MS: only when an instance stalls far beyond any
 * client's patience): its comparison ran outside the budget, so its outcome is not revealed and nothing is consumed.
 * A failure still counts; the caller hears `busy` and may try again.
 */
async function outlived(
  q: Queryable,
  attempt: Attempt,
  method: CodeMethod | undefined,
  failure?: string,
): Promise<VerifyResult> {
  await appendAudit(q, attempt.ctx, {
    ...attempt.base,
    outcome: 'failure',
    reason: 'attempt_outlived_lease',
    ...(method ? { method } : {}),
  });
  if (failure !== undefined)
    await countFailure(q, attempt.slot.subject, attempt.policy.lockout, attempt.ctx.clock.now());
  return OUTLIVED;
}
