import { PURPOSES, type CodeMethod, type Purpose } from '../../src-shared/codes.js';
import { constantTimeEqual, wipe } from '../../src-shared/crypto/compare.js';
import { hmacSha256 } from '../../src-shared/crypto/kdf.js';
import type { Policy } from '../../src-shared/policy.js';
import type { ServerContext } from '../context.js';
import type { Queryable } from '../db/port.js';
import { findToken, type TokenRecord } from '../db/queries/tokens.js';
import { activeTemporaryCode, type TemporaryCodeRecord } from '../db/queries/temporary-codes.js';
import type { UserRecord } from '../db/queries/users.js';
import { couldBeStoredCode, hashCode, matchHash } from './code-hash.js';
import { liveEmergencySet, usableEmergencyCodes } from './emergency-codes.js';
import { checkPin } from './pin.js';
import { decryptSecret } from './secrets.js';
import { matchTokenStep } from './totp.js';

/**
 * The comparing half of a verification (services/verification.ts decides and records): everything that decides the
 * outcome, computed outside any transaction, every candidate compared whatever matched, so timing does not say
 * which kind matched or whether the PIN was right; and the same work for a user who cannot verify.
 */
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
export type ExtraCandidateSource = (q: Queryable, user: UserRecord, policy: Policy) => Promise<ExtraCandidate[]>;

export type Match =
  | { method: 'token'; step: number }
  | { method: 'temporary'; row: TemporaryCodeRecord }
  | { method: 'emergency'; codeId: number }
  | { method: 'extra'; candidate: ExtraCandidate };

export interface Evidence {
  match?: Match;
  pinOk: boolean;
}

/** Everything that decides the outcome, computed outside any transaction (scrypt must not hold the database). */
export async function gatherEvidence(
  ctx: ServerContext,
  req: { pin?: string; extraCandidates?: ExtraCandidateSource },
  user: UserRecord,
  policy: Policy,
  typed: string,
): Promise<Evidence> {
  const now = ctx.clock.now();
  const [token, temporary, set] = await Promise.all([
    findToken(ctx.db, user.id),
    activeTemporaryCode(ctx.db, user.id, now),
    liveEmergencySet(ctx.db, user.id),
  ]);
  const emergency = await usableEmergencyCodes(ctx.db, set, now);
  const extras = req.extraCandidates ? await req.extraCandidates(ctx.db, user, policy) : [];

  const [hash, pinOk] = await Promise.all([
    couldBeStoredCode(typed) ? hashCode(ctx, user.codeSalt, typed) : Promise.resolve(undefined),
    checkPin(ctx, user, req.pin),
  ]);
  try {
    const tokenStep = token ? await matchToken(ctx, user.id, token, typed, now) : undefined;
    const stored = [...(temporary ? [temporary.codeHash] : []), ...emergency.map((e) => e.codeHash)];
    const storedIndex = hash ? matchHash(hash, stored) : -1;
    const extraIndex = matchExtras(extras, typed, hash);

    let match: Match | undefined;
    if (tokenStep !== undefined) match = { method: 'token', step: tokenStep };
    else if (storedIndex === 0 && temporary) match = { method: 'temporary', row: temporary };
    else if (storedIndex >= 0)
      match = { method: 'emergency', codeId: emergency[storedIndex - (temporary ? 1 : 0)]!.id };
    else if (extraIndex >= 0) match = { method: 'extra', candidate: extras[extraIndex]! };
    return { match, pinOk };
  } finally {
    wipe(hash);
  }
}

/** The token step the typed code belongs to (now ±1), or undefined; the seed is decrypted only for this check. */
async function matchToken(
  ctx: ServerContext,
  userId: number,
  token: TokenRecord,
  typed: string,
  now: number,
): Promise<number | undefined> {
  const seed = decryptSecret(ctx, `token:${userId}`, token.seedEnc);
  try {
    return await matchTokenStep(
      { secret: seed.toString('utf8'), algorithm: token.algorithm, digits: token.digits, period: token.period },
      typed,
      now,
    );
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
    const equal =
      s.kind === 'plain'
        ? constantTimeEqual(typedBytes, s.value)
        : hash !== undefined && constantTimeEqual(hash, s.value);
    if (equal && found === -1) found = i;
    if (s.kind === 'plain') wipe(s.value);
  }
  wipe(typedBytes);
  return found;
}

export function methodOf(match: Match): CodeMethod {
  return match.method === 'extra' ? match.candidate.method : match.method;
}

export function pinRequiredFor(match: Match, policy: Policy): boolean {
  switch (match.method) {
    case 'token':
    case 'emergency':
      return policy.pin.required;
    case 'temporary':
      return match.row.pinRequired;
    case 'extra':
      return match.candidate.pinRequired;
  }
}

/**
 * The normal token serves every purpose. A temporary code serves the purposes it was issued for. An emergency code
 * stands in for the token but, like any helpdesk-issued code, never signs unless the policy lets temporary codes sign.
 */
export function purposesFor(match: Match, policy: Policy): readonly Purpose[] {
  switch (match.method) {
    case 'token':
      return PURPOSES;
    case 'temporary':
      return match.row.purposes;
    case 'emergency':
      return PURPOSES.filter((p) => p !== 'sign' || policy.temporaryCodes.purposes.includes('sign'));
    case 'extra':
      return match.candidate.purposes;
  }
}

const DUMMY_SALT_LABEL = 'lifeline/unknown-user-salt/v1';
const DUMMY_TOTP_SECRET = 'A'.repeat(32); // 20 zero bytes in base32: only ever used to spend the same time

/**
 * The work a real verification does (one code derivation when the input could be a stored code, one PIN derivation,
 * three token HMACs), for an unknown or inactive user, so response times do not reveal which usernames exist.
 */
export async function spendLikeAVerification(
  ctx: ServerContext,
  typed: string,
  pin: string | undefined,
): Promise<void> {
  const salt = hmacSha256(ctx.keys.pepper, DUMMY_SALT_LABEL).subarray(0, 16);
  const [hash] = await Promise.all([
    couldBeStoredCode(typed) ? hashCode(ctx, salt, typed) : Promise.resolve(undefined),
    checkPin(ctx, { pin_hash: null, pin_salt: null }, pin),
  ]);
  await matchTokenStep(
    { secret: DUMMY_TOTP_SECRET, algorithm: 'SHA1', digits: 6, period: 30 },
    '000000',
    ctx.clock.now(),
  );
  wipe(hash);
}
