import type { Queryable } from '../port.js';

/**
 * The lockout counters that `users` (a user, by id) and `name_lockouts` (a name that is no active user) both carry,
 * written by the same guarded statements on either table (services/lockout.ts says what they mean).
 */
export type LockCounterKey = { kind: 'user'; id: number } | { kind: 'name'; username: string };

export interface LockCounterRecord {
  failures: number;
  lockPeriods: number;
  lockedUntil: number | null;
  lockedPermanently: boolean;
}

const TABLES = {
  user: { table: 'users', key: 'id' },
  name: { table: 'name_lockouts', key: 'username' },
} as const;

function where(subject: LockCounterKey): { table: string; key: string; value: number | string } {
  const t = TABLES[subject.kind];
  return { ...t, value: subject.kind === 'user' ? subject.id : subject.username };
}

function toLockCounterRecord(r: {
  failures: unknown;
  lock_periods: unknown;
  locked_until: unknown;
  locked_permanently: unknown;
}): LockCounterRecord {
  return {
    failures: Number(r.failures),
    lockPeriods: Number(r.lock_periods),
    lockedUntil: r.locked_until == null ? null : Number(r.locked_until),
    lockedPermanently: Number(r.locked_permanently) === 1,
  };
}

/** The places in flight that still count: none once the lease has run out. */
const LIVE = '(CASE WHEN in_flight_until > ? THEN attempts_in_flight ELSE 0 END)';

/**
 * Takes one place, only while unlocked and while failures plus the live places stay below `maxFailures`; a stale
 * count (lease run out) is dropped first and the epoch moves on. Returns the place's epoch, or undefined if refused.
 */
export async function takeAttemptPlace(
  q: Queryable,
  subject: LockCounterKey,
  maxFailures: number,
  leaseUntil: number,
  now: number,
): Promise<number | undefined> {
  const { table, key, value } = where(subject);
  const row = await q.get<{ in_flight_epoch: number | string }>(
    `UPDATE ${table} SET
       attempts_in_flight = ${LIVE} + 1,
       in_flight_epoch = CASE WHEN attempts_in_flight > 0 AND ${LIVE} = 0 THEN in_flight_epoch + 1 ELSE in_flight_epoch END,
       in_flight_until = ?,
       updated_at = ?
     WHERE ${key} = ? AND locked_permanently = 0 AND (locked_until IS NULL OR locked_until <= ?) AND failures + ${LIVE} < ?
     RETURNING in_flight_epoch`,
    [now, now, leaseUntil, now, value, now, now, maxFailures],
  );
  return row ? Number(row.in_flight_epoch) : undefined;
}

/** Gives a place back; false when the count of that epoch was dropped meanwhile. */
export async function giveBackAttemptPlace(q: Queryable, subject: LockCounterKey, epoch: number): Promise<boolean> {
  const { table, key, value } = where(subject);
  const r = await q.run(
    `UPDATE ${table} SET attempts_in_flight = attempts_in_flight - 1 WHERE ${key} = ? AND in_flight_epoch = ? AND attempts_in_flight > 0`,
    [value, epoch],
  );
  return r.changes === 1;
}

/**
 * Counts one failure; the one that reaches `maxFailures` locks until `lockedUntil` (the count back at 0, a new lock
 * period), permanently once `maxLockPeriods` periods were reached. Returns the counters after it, if the row exists.
 */
export async function addFailure(
  q: Queryable,
  subject: LockCounterKey,
  limits: { maxFailures: number; maxLockPeriods: number; lockedUntil: number },
  now: number,
): Promise<LockCounterRecord | undefined> {
  const { table, key, value } = where(subject);
  const max = limits.maxFailures;
  const row = await q.get<{
    failures: unknown;
    lock_periods: unknown;
    locked_until: unknown;
    locked_permanently: unknown;
  }>(
    `UPDATE ${table} SET
       failures = CASE WHEN failures + 1 >= ? THEN 0 ELSE failures + 1 END,
       locked_until = CASE WHEN failures + 1 >= ? THEN ? ELSE locked_until END,
       lock_periods = CASE WHEN failures + 1 >= ? THEN lock_periods + 1 ELSE lock_periods END,
       locked_permanently = CASE WHEN failures + 1 >= ? AND lock_periods + 1 >= ? THEN 1 ELSE locked_permanently END,
       updated_at = ?
     WHERE ${key} = ?
     RETURNING failures, lock_periods, locked_until, locked_permanently`,
    [max, max, limits.lockedUntil, max, max, limits.maxLockPeriods, now, value],
  );
  return row ? toLockCounterRecord(row) : undefined;
}

export async function readLockCounters(q: Queryable, subject: LockCounterKey): Promise<LockCounterRecord | undefined> {
  const { table, key, value } = where(subject);
  const row = await q.get<{
    failures: unknown;
    lock_periods: unknown;
    locked_until: unknown;
    locked_permanently: unknown;
  }>(`SELECT failures, lock_periods, locked_until, locked_permanently FROM ${table} WHERE ${key} = ?`, [value]);
  return row ? toLockCounterRecord(row) : undefined;
}
