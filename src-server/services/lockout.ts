import type { Policy } from '../../src-shared/policy.js';
import type { Db, Queryable } from '../db/port.js';

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
export type LockSubject = { kind: 'user'; id: number } | { kind: 'name'; username: string };

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

interface LockRow {
  failures: number | string;
  lock_periods: number | string;
  locked_until: number | string | null;
  locked_permanently: number | string;
}

const TABLES = {
  user: { table: 'users', key: 'id' },
  name: { table: 'name_lockouts', key: 'username' },
} as const;

function where(subject: LockSubject): { table: string; key: string; value: number | string } {
  const t = TABLES[subject.kind];
  return { ...t, value: subject.kind === 'user' ? subject.id : subject.username };
}

/** The places in flight that still count: none once the lease has run out. */
const LIVE = '(CASE WHEN in_flight_until > ? THEN attempts_in_flight ELSE 0 END)';

export async function reserveAttempt(db: Db, subject: LockSubject, lockout: Policy['lockout'], now: number): Promise<Reservation> {
  if (subject.kind === 'name') await rememberName(db, subject.username, lockout, now);
  const { table, key, value } = where(subject);
  const row = await db.get<{ in_flight_epoch: number | string }>(
    `UPDATE ${table} SET
       attempts_in_flight = ${LIVE} + 1,
       in_flight_epoch = CASE WHEN attempts_in_flight > 0 AND ${LIVE} = 0 THEN in_flight_epoch + 1 ELSE in_flight_epoch END,
       in_flight_until = ?,
       updated_at = ?
     WHERE ${key} = ? AND locked_permanently = 0 AND (locked_until IS NULL OR locked_until <= ?) AND failures + ${LIVE} < ?
     RETURNING in_flight_epoch`,
    [now, now, now + ATTEMPT_LEASE_MS, now, value, now, now, lockout.maxFailures],
  );
  if (row) return { allowed: true, slot: { subject, epoch: Number(row.in_flight_epoch) } };
  const lock = await currentLock(db, subject, now);
  if (lock.locked) return { allowed: false, reason: 'locked', retryAfterSeconds: lock.retryAfterSeconds, permanent: lock.permanent };
  return { allowed: false, reason: 'busy', retryAfterSeconds: BUSY_RETRY_SECONDS };
}

/**
 * Gives the place back. False when it was no longer this attempt's (it outlived the lease and the count was
 * dropped): the caller must then not reveal the attempt's outcome, which was compared beyond the budget.
 */
export async function releaseSlot(q: Queryable, slot: Slot): Promise<boolean> {
  const { table, key, value } = where(slot.subject);
  const r = await q.run(`UPDATE ${table} SET attempts_in_flight = attempts_in_flight - 1 WHERE ${key} = ? AND in_flight_epoch = ? AND attempts_in_flight > 0`, [
    value,
    slot.epoch,
  ]);
  return r.changes === 1;
}

/** Counts one decided failure; `locked` when it started a lock (and `permanent` when only an admin can lift it). */
export async function countFailure(
  q: Queryable,
  subject: LockSubject,
  lockout: Policy['lockout'],
  now: number,
): Promise<{ locked: false } | { locked: true; permanent: boolean; retryAfterSeconds: number; lockPeriods: number }> {
  const { table, key, value } = where(subject);
  const max = lockout.maxFailures;
  const lockedUntil = now + lockout.lockMinutes * 60_000;
  const row = await q.get<LockRow>(
    `UPDATE ${table} SET
       failures = CASE WHEN failures + 1 >= ? THEN 0 ELSE failures + 1 END,
       locked_until = CASE WHEN failures + 1 >= ? THEN ? ELSE locked_until END,
       lock_periods = CASE WHEN failures + 1 >= ? THEN lock_periods + 1 ELSE lock_periods END,
       locked_permanently = CASE WHEN failures + 1 >= ? AND lock_periods + 1 >= ? THEN 1 ELSE locked_permanently END,
       updated_at = ?
     WHERE ${key} = ?
     RETURNING failures, lock_periods, locked_until, locked_permanently`,
    [max, max, lockedUntil, max, max, lockout.maxLockPeriods, now, value],
  );
  if (subject.kind === 'name') await q.run('UPDATE name_lockouts SET expires_at = ? WHERE username = ?', [nameExpiry(lockout, now), subject.username]);
  // Only the failure that locks leaves the count at 0 (any other leaves it at 1 or more).
  if (!row || Number(row.failures) !== 0) return { locked: false };
  const permanent = Number(row.locked_permanently) === 1;
  return { locked: true, permanent, retryAfterSeconds: permanent ? 0 : lockout.lockMinutes * 60, lockPeriods: Number(row.lock_periods) };
}

/** How long the subject stays locked, as seen now. */
export async function currentLock(q: Queryable, subject: LockSubject, now: number): Promise<{ locked: boolean; retryAfterSeconds: number; permanent: boolean }> {
  const { table, key, value } = where(subject);
  const state = await q.get<LockRow>(`SELECT failures, lock_periods, locked_until, locked_permanently FROM ${table} WHERE ${key} = ?`, [value]);
  const permanent = Number(state?.locked_permanently ?? 0) === 1;
  const until = state?.locked_until == null ? now : Number(state.locked_until);
  const locked = permanent || until > now;
  // A permanent lock has no time after which a retry helps; 0 with `permanent` tells the caller to call the helpdesk.
  // A refusal that raced an unlock still says 1 s rather than 0, so a client never retries in a tight loop.
  return { locked, permanent, retryAfterSeconds: permanent ? 0 : Math.max(1, Math.ceil((until - now) / 1000)) };
}

/** A success ends the lock period count (places in flight stay theirs). */
export async function resetFailures(q: Queryable, userId: number, now: number): Promise<void> {
  await q.run('UPDATE users SET failures = 0, lock_periods = 0, locked_until = NULL, locked_permanently = 0, updated_at = ? WHERE id = ?', [now, userId]);
}

/** An admin's unlock: the same reset, returned so the caller can say whether the user was locked at all. */
export async function clearLockout(q: Queryable, userId: number, now: number): Promise<{ wasLocked: boolean }> {
  const before = await currentLock(q, { kind: 'user', id: userId }, now);
  await resetFailures(q, userId, now);
  return { wasLocked: before.locked };
}

/**
 * The name's row, fresh when it was forgotten. Two statements are safe without a transaction: the DELETE only takes
 * a row past its expiry, which no attempt in flight can have (the lease is far shorter).
 */
async function rememberName(db: Db, username: string, lockout: Policy['lockout'], now: number): Promise<void> {
  await db.run('DELETE FROM name_lockouts WHERE username = ? AND expires_at <= ?', [username, now]);
  await db.run('INSERT INTO name_lockouts (username, updated_at, expires_at) VALUES (?, ?, ?) ON CONFLICT (username) DO UPDATE SET expires_at = excluded.expires_at', [
    username,
    now,
    nameExpiry(lockout, now),
  ]);
}

/** A day after the last attempt, or after the end of a lock that attempt may start. */
function nameExpiry(lockout: Policy['lockout'], now: number): number {
  return now + lockout.lockMinutes * 60_000 + DAY;
}
