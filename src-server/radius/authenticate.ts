import { CODE_LENGTHS } from '../../src-shared/codes.js';
import type { Policy } from '../../src-shared/policy.js';
import type { ServerContext } from '../context.js';
import type { Queryable } from '../db/port.js';
import { checkPin } from '../services/pin.js';
import { loadSettings, policyForUser } from '../services/policy.js';
import { findToken } from '../db/queries/tokens.js';
import type { UserRecord } from '../db/queries/users.js';
import { activeTemporaryCode } from '../services/temporary-codes.js';
import { findUserByUsername } from '../services/users.js';
import { verifyCode } from '../services/verification.js';
import type { ChallengeStore } from './challenges.js';
import type { ActiveClient } from './clients.js';
import { readCodeAfterChallenge, readPasscode, type CodeKind, type Reading } from './split.js';

/**
 * What a PAP Access-Request means for Lifeline: PIN ‖ code (or the code alone where the policy needs no PIN), or,
 * when no code can be read from it, a challenge for the code. Every path that reaches a code makes exactly ONE call
 * to verifyCode, which owns lockout, replay, single use and the audit row (channel radius:<NAS name>).
 */
export type Decision =
  | { kind: 'accept' }
  | { kind: 'reject'; message: string }
  | { kind: 'challenge'; state: Buffer; message: string }
  /**
   * No answer, and the request is forgotten: other attempts of the user held every place (verifyCode's `busy`;
   * nothing was checked or counted). A NAS retries a request that got no answer, never one that got a Reject.
   */
  | { kind: 'retry' };

export const MESSAGES = {
  challenge: 'Enter your code (token, temporary or emergency code).',
  rejected: 'Access denied.',
  expiredChallenge: 'The sign-in took too long. Start again.',
  locked: (seconds: number) =>
    seconds > 0
      ? `Too many failed attempts. Try again in ${Math.ceil(seconds / 60)} minute(s).`
      : 'Too many failed attempts. Call the helpdesk.',
} as const;

export async function authenticate(
  ctx: ServerContext,
  challenges: ChallengeStore,
  client: ActiveClient,
  request: { username: string; password: string; state?: Buffer },
): Promise<Decision> {
  let challengedPin: string | undefined;
  if (request.state) {
    challengedPin = await challenges.take(request.state, client.id, request.username);
    if (challengedPin === undefined) return { kind: 'reject', message: MESSAGES.expiredChallenge };
  }

  const user = await findUserByUsername(ctx.db, request.username);
  // An unknown user is read under the default policy, so the challenge/reject pattern says nothing about who exists.
  const policy = await policyForUser(ctx.db, user ?? { policyId: null });
  const kinds = await codeKinds(ctx.db, user, policy, ctx.clock.now());

  let readings: Reading[];
  if (challengedPin !== undefined) {
    readings = readCodeAfterChallenge(request.password, challengedPin, kinds);
    // The answer to a challenge is one attempt even when it is no code at all.
    if (readings.length === 0) readings = [{ pin: challengedPin, code: request.password }];
  } else {
    readings = readPasscode(request.password, kinds, policy.pin.minLength);
    if (readings.length === 0) {
      return {
        kind: 'challenge',
        state: await challenges.create(client.id, request.username, request.password),
        message: MESSAGES.challenge,
      };
    }
  }

  const attempt = readings.length === 1 ? readings[0]! : await oneReading(ctx, user, readings);
  const result = await verifyCode(ctx, {
    username: request.username,
    code: attempt.code,
    ...(attempt.pin !== undefined ? { pin: attempt.pin } : {}),
    purpose: 'remote-access',
    channel: { kind: 'radius', id: client.name },
  });
  if (result.ok) return { kind: 'accept' };
  if (result.error === 'busy') return { kind: 'retry' };
  if (result.error === 'locked') return { kind: 'reject', message: MESSAGES.locked(result.retryAfterSeconds) };
  return { kind: 'reject', message: MESSAGES.rejected };
}

/** Stands in for an unknown user, so the PIN checks below cost the same whether or not the user exists. */
const NO_PIN: Pick<UserRecord, 'pinHash' | 'pinSalt'> = { pinHash: null, pinSalt: null };

/**
 * A password that reads two ways is still one attempt. The readings differ in where the PIN ends, so at most one of
 * their PINs is the user's: check them (one scrypt apiece; the outcome is never shown) and verify only the reading
 * whose PIN matched; with no match, the reading without a PIN if there is one, else the last, which then fails as
 * one counted attempt. Without a PIN-less reading the last one is what remains when the others fail, so it needs no
 * check of its own. The number of checks depends on the password alone, never on the user or their PIN. Nothing
 * here decides success: verifyCode checks the PIN again.
 */
async function oneReading(ctx: ServerContext, user: UserRecord | undefined, readings: Reading[]): Promise<Reading> {
  const withoutPin = readings.find((r) => r.pin === undefined);
  const withPin = readings.filter((r) => r.pin !== undefined);
  const toCheck = withoutPin ? withPin : withPin.slice(0, -1);
  const matches = await Promise.all(toCheck.map((r) => checkPin(ctx, user ?? NO_PIN, r.pin)));
  return toCheck[matches.indexOf(true)] ?? withoutPin ?? withPin.at(-1)!;
}

/** The kinds of code this user could type, each with its fixed length and whether the PIN goes with it. */
async function codeKinds(q: Queryable, user: UserRecord | undefined, policy: Policy, now: number): Promise<CodeKind[]> {
  const settings = await loadSettings(q);
  const token = user ? await findToken(q, user.id) : undefined;
  const temporary = user ? await activeTemporaryCode(q, user.id, now) : undefined;
  const pin = policy.pin.required;
  const kinds: CodeKind[] = [{ method: 'token', length: token?.digits ?? 6, digitsOnly: true, pinNeeded: pin }];
  if (settings.temporaryCodesEnabled && policy.temporaryCodes.allowed) {
    kinds.push({
      method: 'temporary',
      length: temporary?.codeLength ?? policy.temporaryCodes.codeLength,
      digitsOnly: false,
      // As verifyCode judges it: an issued code carries its own PIN rule; before one is issued, the policy's.
      pinNeeded: temporary ? temporary.pinRequired : pin && policy.temporaryCodes.pinRequired,
    });
  }
  if (settings.emergencyCodesEnabled)
    kinds.push({ method: 'emergency', length: CODE_LENGTHS.emergency, digitsOnly: false, pinNeeded: pin });
  return kinds;
}
