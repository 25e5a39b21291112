import { normalizeCode, PURPOSES, type CodeMethod, type Purpose } from '../../src-shared/codes.js';
import { constantTimeEqual, wipe } from '../../src-shared/crypto/compare.js';
import { hmacSha256 } from '../../src-shared/crypto/kdf.js';
import type { Policy } from '../../src-shared/policy.js';
import type { ServerContext } from '../context.js';
import type { Queryable } from '../db/port.js';
import { appendAudit, type AuditEvent } from './audit.js';
import { couldBeStoredCode, hashCode, matchHash } from './code-hash.js';
import { consumeEmergencyCode, liveEmergencySet, setExpired, tokenBlockedBySet, usableEmergencyCodes, voidEmergencySet } from './emergency-codes.js';
import { BUSY_RETRY_SECONDS, countFailure, releaseSlot, reserveAttempt, resetFailures, type LockSubject, type Slot } from './lockout.js';
import { checkPin } from './pin.js';
import { policyForUser } from './policy.js';
import { decryptSecret } from './secrets.js';
import { activeTemporaryCode, consumeTemporaryCode, revokeTemporaryCode, type TemporaryCodeRow } from './temporary-codes.js';
import { matchTokenStep } from './totp.js';
import { findUserByUsername, tryNormalizeUsername, type UserRow } from './users.js';

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

/**
 * A code kind that another module owns. `secret` is what the typed code is compared with: the normalised plaintext
 * (for codes kept encrypted, e.g. offline emergency slots; wiped after the comparison) or a hash made with hashCode
 * and the user's code salt. `consume` runs inside the verification's transaction and must be one guarded statement.
 */
export interface ExtraCandidate {
  method: CodeMethod;
  secret: { kind: 'plain'; value: Buffer } | { kind: 'hash'; value: Buffer };
  pinRequired: boolean;
  purposes: readonly Purpose[];
  consume(q: Queryable, now: number): Promise<boolean>;
  /** Non-secret facts for the audit row (e.g. slot number). */
  auditDetails?: Record<string, string | number | boolean | null>;
}
export type ExtraCandidateSource = (q: Queryable, user: UserRow, policy: Policy) => Promise<ExtraCandidate[]>;

export type VerifyResult =
  | { ok: true; method: CodeMethod; user: UserRow; temporary?: { multiUse: boolean; expiresAt: number }; tokenStep?: number }
  | { ok: false; error: 'invalid_code' }
  | { ok: false; error: 'locked'; retryAfterSeconds: number; /** only an admin can unlock */ permanent: boolean }
  /** Other attempts of this user are being checked and hold every place: nothing was checked or counted. */
  | { ok: false; error: 'busy'; retryAfterSeconds: number }
  | { ok: false; error: 'purpose_not_allowed' };

interface TokenRow {
  seed_enc: Buffer;
  algorithm: string;
  digits: number;
  period: number;
  last_step: number;
}

type Match =
  | { method: 'token'; step: number }
  | { method: 'temporary'; row: TemporaryCodeRow }
  | { method: 'emergency'; codeId: number }
  | { method: 'extra'; candidate: ExtraCandidate };

interface Evidence {
  match?: Match;
  pinOk: boolean;
}

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
  const policy = await policyForUser(ctx.db, user ?? { policy_id: null });
  const subject: LockSubject = active ? { kind: 'user', id: active.id } : { kind: 'name', username: name! };
  const reservation = await reserveAttempt(ctx.db, subject, policy.lockout, ctx.clock.now());
  if (!reservation.allowed) {
    // Busy: nothing was checked, like an attempt the admission gate shed, so nothing is audited either.
    if (reservation.reason === 'busy') return { ok: false, error: 'busy', retryAfterSeconds: reservation.retryAfterSeconds };
    await appendAudit(ctx.db, ctx, { ...base, outcome: 'failure', reason: 'locked', details: { permanent: reservation.permanent } });
    return { ok: false, error: 'locked', retryAfterSeconds: reservation.retryAfterSeconds, permanent: reservation.permanent };
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

async function checkReservedAttempt(attempt: Attempt, req: VerifyRequest, user: UserRow, typed: string): Promise<VerifyResult> {
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
    const details = match.method === 'extra' ? match.candidate.auditDetails : match.method === 'token' ? { step: match.step } : undefined;
    await appendAudit(q, ctx, { ...base, method, outcome: 'success', ...(details ? { details } : {}) });
    const result: VerifyResult = { ok: true, method, user };
    if (match.method === 'temporary') result.temporary = { multiUse: Number(match.row.multi_use) === 1, expiresAt: Number(match.row.expires_at) };
    if (match.method === 'token') result.tokenStep = match.step;
    return result;
  });
}

function auditBase(req: VerifyRequest, user: UserRow | undefined): Omit<AuditEvent, 'outcome'> {
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

/** Everything that decides the outcome, computed outside any transaction (scrypt must not hold the database). */
async function gatherEvidence(ctx: ServerContext, req: VerifyRequest, user: UserRow, policy: Policy, typed: string): Promise<Evidence> {
  const now = ctx.clock.now();
  const [token, temporary, set] = await Promise.all([
    ctx.db.get<TokenRow>('SELECT seed_enc, algorithm, digits, period, last_step FROM tokens WHERE user_id = ?', [user.id]),
    activeTemporaryCode(ctx.db, user.id, now),
    liveEmergencySet(ctx.db, user.id),
  ]);
  const emergency = await usableEmergencyCodes(ctx.db, set, now);
  const extras = req.extraCandidates ? await req.extraCandidates(ctx.db, user, policy) : [];

  const [hash, pinOk] = await Promise.all([
    couldBeStoredCode(typed) ? hashCode(ctx, user.code_salt, typed) : Promise.resolve(undefined),
    checkPin(ctx, user, req.pin),
  ]);
  try {
    const tokenStep = token ? await matchToken(ctx, user.id, token, typed, now) : undefined;
    const stored = [...(temporary ? [temporary.code_hash] : []), ...emergency.map((e) => e.code_hash)];
    const storedIndex = hash ? matchHash(hash, stored) : -1;
    const extraIndex = matchExtras(extras, typed, hash);

    let match: Match | undefined;
    if (tokenStep !== undefined) match = { method: 'token', step: tokenStep };
    else if (storedIndex === 0 && temporary) match = { method: 'temporary', row: temporary };
    else if (storedIndex >= 0) match = { method: 'emergency', codeId: emergency[storedIndex - (temporary ? 1 : 0)]!.id };
    else if (extraIndex >= 0) match = { method: 'extra', candidate: extras[extraIndex]! };
    return { match, pinOk };
  } finally {
    wipe(hash);
  }
}

/** The token step the typed code belongs to (now ±1), or undefined; the seed is decrypted only for this check. */
async function matchToken(ctx: ServerContext, userId: number, token: TokenRow, typed: string, now: number): Promise<number | undefined> {
  const seed = decryptSecret(ctx, `token:${userId}`, token.seed_enc);
  try {
    return await matchTokenStep({ secret: seed.toString('utf8'), algorithm: token.algorithm, digits: Number(token.digits), period: Number(token.period) }, typed, now);
  } finally {
    wipe(seed);
  }
}

/** Every extra candidate compared, no early exit; plaintext candidates wiped afterwards. */
function matchExtras(extras: readonly ExtraCandidate[], typed: string, hash: Buffer | undefined): number {
  let found = -1;
  const typedBytes = Buffer.from(typed, 'utf8');
  for (let i = 0; i < extras.length; i++) {
    const s = extras[i]!.secret;
    const equal = s.kind === 'plain' ? constantTimeEqual(typedBytes, s.value) : hash !== undefined && constantTimeEqual(hash, s.value);
    if (equal && found === -1) found = i;
    if (s.kind === 'plain') wipe(s.value);
  }
  wipe(typedBytes);
  return found;
}

function methodOf(match: Match): CodeMethod {
  return match.method === 'extra' ? match.candidate.method : match.method;
}

function pinRequiredFor(match: Match, policy: Policy): boolean {
  switch (match.method) {
    case 'token':
    case 'emergency':
      return policy.pin.required;
    case 'temporary':
      return Number(match.row.pin_required) === 1;
    case 'extra':
      return match.candidate.pinRequired;
  }
}

/**
 * The normal token serves every purpose. A temporary code serves the purposes it was issued for. An emergency code
 * stands in for the token but, like any helpdesk-issued code, never signs unless the policy lets temporary codes sign.
 */
function purposesFor(match: Match, policy: Policy): readonly Purpose[] {
  switch (match.method) {
    case 'token':
      return PURPOSES;
    case 'temporary':
      return JSON.parse(match.row.purposes) as Purpose[];
    case 'emergency':
      return PURPOSES.filter((p) => p !== 'sign' || policy.temporaryCodes.purposes.includes('sign'));
    case 'extra':
      return match.candidate.purposes;
  }
}

/** Consumes the matched code with one guarded statement; returns the failure reason when it may not be used. */
async function consume(q: Queryable, match: Match, user: UserRow, now: number): Promise<string | undefined> {
  switch (match.method) {
    case 'token': {
      const blocked = await tokenBlockedBySet(q, user.id, now);
      if (blocked) return blocked;
      const r = await q.run('UPDATE tokens SET last_step = ? WHERE user_id = ? AND last_step < ?', [match.step, user.id, match.step]);
      return r.changes === 1 ? undefined : 'replayed';
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
async function afterTokenSuccess(q: Queryable, ctx: ServerContext, user: UserRow, policy: Policy, channel: VerifyChannel, now: number): Promise<void> {
  if (policy.temporaryCodes.revokeOnTokenSuccess) {
    await revokeTemporaryCode(q, ctx, user, { reason: 'token-success', actorKind: channel.kind, actor: channel.id });
  }
  const set = await liveEmergencySet(q, user.id);
  if (set && set.token_behaviour === 'allow-and-disable-codes' && !setExpired(set, now)) {
    await voidEmergencySet(q, ctx, user, { reason: 'token-success', actorKind: channel.kind, actor: channel.id });
  }
}

/** A failed attempt: its place given back and the failure counted, in one transaction with its audit row. */
async function recordFailure(attempt: Attempt, reason: string): Promise<VerifyResult> {
  return attempt.ctx.db.tx(async (q) => ((await releaseSlot(q, attempt.slot)) ? countedFailure(q, attempt, reason) : outlived(q, attempt, undefined, reason)));
}

/** Counts the failure (its place is already given back); audits it, and the lockout when it started one. */
async function countedFailure(q: Queryable, attempt: Attempt, reason: string, method?: CodeMethod): Promise<VerifyResult> {
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
async function outlived(q: Queryable, attempt: Attempt, method: CodeMethod | undefined, failure?: string): Promise<VerifyResult> {
  await appendAudit(q, attempt.ctx, { ...attempt.base, outcome: 'failure', reason: 'attempt_outlived_lease', ...(method ? { method } : {}) });
  if (failure !== undefined) await countFailure(q, attempt.slot.subject, attempt.policy.lockout, attempt.ctx.clock.now());
  return OUTLIVED;
}

const DUMMY_SALT_LABEL = 'lifeline/unknown-user-salt/v1';
const DUMMY_TOTP_SECRET = 'A'.repeat(32); // 20 zero bytes in base32: only ever used to spend the same time

/**
 * The work a real verification does (one code derivation when the input could be a stored code, one PIN derivation,
 * three token HMACs), for an unknown or inactive user, so response times do not reveal which usernames exist.
 */
async function spendLikeAVerification(ctx: ServerContext, typed: string, pin: string | undefined): Promise<void> {
  const salt = hmacSha256(ctx.keys.pepper, DUMMY_SALT_LABEL).subarray(0, 16);
  const [hash] = await Promise.all([
    couldBeStoredCode(typed) ? hashCode(ctx, salt, typed) : Promise.resolve(undefined),
    checkPin(ctx, { pin_hash: null, pin_salt: null }, pin),
  ]);
  await matchTokenStep({ secret: DUMMY_TOTP_SECRET, algorithm: 'SHA1', digits: 6, period: 30 }, '000000', ctx.clock.now());
  wipe(hash);
}
