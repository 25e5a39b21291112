import type { Policy } from '../../src-shared/policy.js';
import type { Db, Queryable } from '../db/port.js';

/**
 * Lockout (DESIGN §3, NIST SP 800-63B §5.2.2). An attempt is counted BEFORE its code is compared (Ory Kratos's
 * pattern), by one guarded UPDATE, so a burst of parallel guesses cannot all be compared before the first failure
 * is recorded: at most `maxFailures` attempts per lock period ever reach a comparison.
 *
 * The attempt that brings the count to `maxFailures` sets the lock at once; if it then turns out right, the success
 * clears it (the user proved possession). Each lock starts a new period; the `maxLockPeriods`-th lock without a
 * success in between is permanent until an admin unlocks, so no account sees more than
 * maxFailures × maxLockPeriods (≤ 100) failures without a success.
 */
export type Reservation =
  | { allowed: true; /** this attempt set a lock (it only stands if the attempt fails) */ locks: boolean; permanent: boolean; lockPeriods: number }
  | { allowed: false; retryAfterSeconds: number; permanent: boolean };

interface LockRow {
  failures: number | string;
  lock_periods: number | string;
  locked_until: number | string | null;
  locked_permanently: number | string;
}

export async function reserveAttempt(db: Db, userId: number, lockout: Policy['lockout'], now: number): Promise<Reservation> {
  const max = lockout.maxFailures;
  const row = await db.get<LockRow>(
    `UPDATE users SET
       failures = CASE WHEN failures + 1 >= ? THEN 0 ELSE failures + 1 END,
       locked_until = CASE WHEN failures + 1 >= ? THEN ? ELSE locked_until END,
       lock_periods = CASE WHEN failures + 1 >= ? THEN lock_periods + 1 ELSE lock_periods END,
       locked_permanently = CASE WHEN failures + 1 >= ? AND lock_periods + 1 >= ? THEN 1 ELSE 0 END,
       updated_at = ?
     WHERE id = ? AND locked_permanently = 0 AND (locked_until IS NULL OR locked_until <= ?)
     RETURNING failures, lock_periods, locked_until, locked_permanently`,
    [max, max, now + lockout.lockMinutes * 60_000, max, max, lockout.maxLockPeriods, now, userId, now],
  );
  if (row) {
    const lockedUntil = row.locked_until === null ? null : Number(row.locked_until);
    return { allowed: true, locks: lockedUntil !== null && lockedUntil > now, permanent: Number(row.locked_permanently) === 1, lockPeriods: Number(row.lock_periods) };
  }
  const lock = await currentLock(db, userId, now);
  return { allowed: false, retryAfterSeconds: lock.retryAfterSeconds, permanent: lock.permanent };
}

/** How long the user stays locked, as seen now. */
export async function currentLock(q: Queryable, userId: number, now: number): Promise<{ locked: boolean; retryAfterSeconds: number; permanent: boolean }> {
  const state = await q.get<LockRow>('SELECT failures, lock_periods, locked_until, locked_permanently FROM users WHERE id = ?', [userId]);
  const permanent = Number(state?.locked_permanently ?? 0) === 1;
  const until = state?.locked_until == null ? now : Number(state.locked_until);
  const locked = permanent || until > now;
  // A permanent lock has no time after which a retry helps; 0 with `permanent` tells the caller to call the helpdesk.
  // A refusal that raced an unlock still says 1 s rather than 0, so a client never retries in a tight loop.
  return { locked, permanent, retryAfterSeconds: permanent ? 0 : Math.max(1, Math.ceil((until - now) / 1000)) };
}

/** A success ends the lock period count (and any lock this very attempt had set). */
export async function resetFailures(q: Queryable, userId: number, now: number): Promise<void> {
  await q.run('UPDATE users SET failures = 0, lock_periods = 0, locked_until = NULL, locked_permanently = 0, updated_at = ? WHERE id = ?', [now, userId]);
}

/** An admin's unlock: the same reset, returned so the caller can say whether the user was locked at all. */
export async function clearLockout(q: Queryable, userId: number, now: number): Promise<{ wasLocked: boolean }> {
  const before = await currentLock(q, userId, now);
  await resetFailures(q, userId, now);
  return { wasLocked: before.locked };
}
