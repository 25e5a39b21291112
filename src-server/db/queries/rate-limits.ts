import type { Queryable } from '../port.js';

/**
 * The counters every limiter shares (table `rate_limits`). Each function is one guarded statement, so the limiters in
 * services/rate-limit.ts hold under concurrency on both engines without a read-modify-write.
 */
export interface RateLimitRecord {
  count: number;
  windowStart: number;
}

/** Creates the counter at zero if missing. */
export async function openRateLimit(q: Queryable, key: string, now: number): Promise<void> {
  await q.run('INSERT INTO rate_limits (key, window_start, count) VALUES (?, ?, 0) ON CONFLICT (key) DO NOTHING', [
    key,
    now,
  ]);
}

/** Restarts the counter at zero from `now` if its window started at or before `startedBy`. */
export async function restartRateLimitWindow(q: Queryable, key: string, now: number, startedBy: number): Promise<void> {
  await q.run('UPDATE rate_limits SET window_start = ?, count = 0 WHERE key = ? AND window_start <= ?', [
    now,
    key,
    startedBy,
  ]);
}

/** Counts one hit while the count is below `below`; false when it was not. */
export async function countRateLimitHit(q: Queryable, key: string, below: number): Promise<boolean> {
  return (
    (await q.run('UPDATE rate_limits SET count = count + 1 WHERE key = ? AND count < ?', [key, below])).changes === 1
  );
}

/** As countRateLimitHit, also moving the window start to `now`. */
export async function countRateLimitHitAt(q: Queryable, key: string, below: number, now: number): Promise<boolean> {
  return (
    (
      await q.run('UPDATE rate_limits SET count = count + 1, window_start = ? WHERE key = ? AND count < ?', [
        now,
        key,
        below,
      ])
    ).changes === 1
  );
}

export async function readRateLimit(q: Queryable, key: string): Promise<RateLimitRecord | undefined> {
  const row = await q.get<{ count: number; window_start: number }>(
    'SELECT count, window_start FROM rate_limits WHERE key = ?',
    [key],
  );
  return row ? { count: Number(row.count), windowStart: Number(row.window_start) } : undefined;
}

/** Compare-and-set on the counter as read: false when a concurrent claim changed it first. */
export async function replaceRateLimit(
  q: Queryable,
  key: string,
  seen: RateLimitRecord,
  next: RateLimitRecord,
): Promise<boolean> {
  const r = await q.run(
    'UPDATE rate_limits SET count = ?, window_start = ? WHERE key = ? AND count = ? AND window_start = ?',
    [next.count, next.windowStart, key, seen.count, seen.windowStart],
  );
  return r.changes === 1;
}

export async function deleteRateLimit(q: Queryable, key: string): Promise<void> {
  await q.run('DELETE FROM rate_limits WHERE key = ?', [key]);
}

/** Housekeeping: counters whose window started before `before`. */
export async function pruneRateLimits(q: Queryable, before: number): Promise<number> {
  return (await q.run('DELETE FROM rate_limits WHERE window_start < ?', [before])).changes;
}
