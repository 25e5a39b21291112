import type { Policy } from '../../src-shared/policy.js';
import type { Queryable } from '../db/port.js';
import {
  addFailure,
  giveBackAttemptPlace,
  readLockCounters,
  takeAttemptPlace,
  type LockCounterKey,
} from '../db/queries/lock-counters.js';
import { rememberName, setNameExpiry } from '../db/queries/name-lockouts.js';
import { resetUserFailures } from '../db/queries/users.js';

/**
 * Lockout (NIST SP 800-63B §5.2.2; docs/architecture.md, "Concurrency rules"). An attempt takes a place BEFORE its
 * code is compared, by one guarded UPDATE, and only while the failures of this lock period plus the attempts still
 * in flight stay below `maxFailures`: however many attempts run at once, at most `maxFailures` wrong comparisons per
 * lock period are ever decided. An attempt that finds every place taken by others in flight is refused as `busy`
 * (retryable, not counted); it never meets a lock that a concurrent attempt might still lift.
 *
 * When the attempt is decided its place is given back (releaseSlot): a success then clears the count (the user
 * proved possession), a failure is counted (countFailure), and the failure that brings the count to `maxFailures`
 * locks. Each lock starts a new period; the `maxLockPeriods`-th lock without a success in between is permanent until
 * an admin unlocks, so no account sees more than maxFailures × maxLockPeriods (≤ 100) failures without a success.
 *
 * A name that is no active user (unknown, or inactive) is counted the same way in `name_lockouts`, so the answers
 * at the threshold do not say whether the user exists; such a row is forgotten a day after its last attempt or
 * lock (nameExpiry; housekeeping deletes it), so guessed names cannot fill the database.
 */
export type LockSubject = LockCounterKey;

/** A place taken by reserveAttempt; `epoch` tells whether it is still this attempt's own when it is given back. */
export interface Slot {
  subject: LockSubject;
  epoch: number;
}

export type Reservation =
  | { allowed: true; slot: Slot }
  | { allowed: false; reason: 'locked'; retryAfterSeconds: number; permanent: boolean }
  | { allowed: false; reason: 'busy'; retryAfterSeconds: number };

/**
 * How long the places taken stay live after the last reservation. Far above any attempt's time (a client gave up
 * long before): it only frees the places of an instance that died mid-attempt.
 */
export const ATTEMPT_LEASE_MS = 60_000;
/** A busy attempt waits for others in flight, which take one scrypt derivation and a transaction: 1 s is ample. */
export const BUSY_RETRY_SECONDS = 1;
const DAY = 24 * 60 * 60 * 1000;

export async function reserveAttempt(
  q: Queryable,
  subject: LockSubject,
  lockout: Policy['lockout'],
  now: number,
): Promise<Reservation> {
  if (subject.kind === 'name') await rememberName(q, subject.username, nameExpiry(lockout, now), now);
  const epoch = await takeAttemptPlace(q, subject, lockout.maxFailures, now + ATTEMPT_LEASE_MS, now);
  if (epoch !== undefined) return { allowed: true, slot: { subject, epoch } };
  const lock = await currentLock(q, subject, now);
  if (lock.locked)
    return { allowed: false, reason: 'locked', retryAfterSeconds: lock.retryAfterSeconds, permanent: lock.permanent };
  return { allowed: false, reason: 'busy', retryAfterSeconds: BUSY_RETRY_SECONDS };
}

/**
 * Gives the place back. False when it was no longer this attempt's (it outlived the lease and the count was
 * dropped): the caller must then not reveal the attempt's outcome, which was compared beyond the budget.
 */
export async function releaseSlot(q: Queryable, slot: Slot): Promise<boolean> {
  return giveBackAttemptPlace(q, slot.subject, slot.epoch);
}

/** Counts one decided failure; `locked` when it started a lock (and `permanent` when only an admin can lift it). */
export async function countFailure(
  q: Queryable,
  subject: LockSubject,
  lockout: Policy['lockout'],
  now: number,
): Promise<{ locked: false } | { locked: true; permanent: boolean; retryAfterSeconds: number; lockPeriods: number }> {
  const lockedUntil = now + lockout.lockMinutes * 60_000;
  const row = await addFailure(
    q,
    subject,
    { maxFailures: lockout.maxFailures, maxLockPeriods: lockout.maxLockPeriods, lockedUntil },
    now,
  );
  if (subject.kind === 'name') await setNameExpiry(q, subject.username, nameExpiry(lockout, now));
  // Only the failure that locks leaves the count at 0 (any other leaves it at 1 or more).
  if (!row || row.failures !== 0) return { locked: false };
  const permanent = row.lockedPermanently;
  return {
    locked: true,
    permanent,
    retryAfterSeconds: permanent ? 0 : lockout.lockMinutes * 60,
    lockPeriods: row.lockPeriods,
  };
}

/** How long the subject stays locked, as seen now. */
export async function currentLock(
  q: Queryable,
  subject: LockSubject,
  now: number,
): Promise<{ locked: boolean; retryAfterSeconds: number; permanent: boolean }> {
  const state = await readLockCounters(q, subject);
  const permanent = state?.lockedPermanently ?? false;
  const until = state?.lockedUntil ?? now;
  const locked = permanent || until > now;
  // A permanent lock has no time after which a retry helps; 0 with `permanent` tells the caller to call the helpdesk.
  // A refusal that raced an unlock still says 1 s rather than 0, so a client never retries in a tight loop.
  return { locked, permanent, retryAfterSeconds: permanent ? 0 : Math.max(1, Math.ceil((until - now) / 1000)) };
}

/** A success ends the lock period count (places in flight stay theirs). */
export async function resetFailures(q: Queryable, userId: number, now: number): Promise<void> {
  await resetUserFailures(q, userId, now);
}

/** An admin's unlock: the same reset, returned so the caller can say whether the user was locked at all. */
export async function clearLockout(q: Queryable, userId: number, now: number): Promise<{ wasLocked: boolean }> {
  const before = await currentLock(q, { kind: 'user', id: userId }, now);
  await resetFailures(q, userId, now);
  return { wasLocked: before.locked };
}

/** A day after the last attempt, or after the end of a lock that attempt may start. */
function nameExpiry(lockout: Policy['lockout'], now: number): number {
  return now + lockout.lockMinutes * 60_000 + DAY;
}
