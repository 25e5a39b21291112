import type { Queryable } from '../db/port.js';
import {
  countRateLimitHit,
  countRateLimitHitAt,
  deleteRateLimit,
  openRateLimit,
  readRateLimit,
  replaceRateLimit,
  restartRateLimitWindow,
} from '../db/queries/rate-limits.js';

export interface RateLimitResult {
  allowed: boolean;
  /** When refused: seconds until the window resets (for `retryAfterSeconds`). */
  retryAfterSeconds: number;
}

/**
 * A fixed-window counter under `key` that refuses the (limit+1)th hit in a window. Every step is one guarded
 * statement, so the limit holds under concurrency on both engines without a read-modify-write:
 *  1. create the counter if missing (ON CONFLICT DO NOTHING),
 *  2. restart it if its window has passed (guarded by window_start),
 *  3. count the hit only while below the limit (`WHERE count < limit`): zero rows changed = refused.
 */
export async function hitRateLimit(
  q: Queryable,
  key: string,
  limit: number,
  windowMs: number,
  now: number,
): Promise<RateLimitResult> {
  await openRateLimit(q, key, now);
  await restartRateLimitWindow(q, key, now, now - windowMs);
  if (await countRateLimitHit(q, key, limit)) return { allowed: true, retryAfterSeconds: 0 };
  const resetAt = ((await readRateLimit(q, key))?.windowStart ?? now) + windowMs;
  return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((resetAt - now) / 1000)) };
}

/** Forgets a counter (e.g. an admin's failed logins after a successful one). */
export async function resetRateLimit(q: Queryable, key: string): Promise<void> {
  await deleteRateLimit(q, key);
}

/** Growing delays between attempts in a run: `free` attempts at once, then base, 2×base, 4×base, … up to cap. */
export interface BackoffPolicy {
  free: number;
  baseMs: number;
  capMs: number;
  /** A run of attempts is forgotten after this long without one. */
  forgetMs: number;
}

/** The wait before the next attempt, after `attempts` attempts of a run. */
export function backoffDelayMs(policy: BackoffPolicy, attempts: number): number {
  if (attempts < policy.free) return 0;
  return Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempts - policy.free, 30));
}

/**
 * Claims one attempt of a run under `key` (an admin name's failed sign-ins), refused while the run's delay lasts.
 * The row keeps `count` = attempts in the run and `window_start` = when the next one is allowed. Each claim is a
 * guarded statement, so the delays hold under concurrency on both engines: within the free attempts a
 * `WHERE count < free - 1` count as in hitRateLimit; past them a compare-and-set on the row as read (zero rows
 * changed = a concurrent attempt took this turn). `resetRateLimit(key)` ends the run (a successful sign-in).
 */
export async function claimBackoffAttempt(
  q: Queryable,
  key: string,
  policy: BackoffPolicy,
  now: number,
): Promise<RateLimitResult> {
  await openRateLimit(q, key, now);
  await restartRateLimitWindow(q, key, now, now - policy.forgetMs);
  if (await countRateLimitHitAt(q, key, policy.free - 1, now)) return { allowed: true, retryAfterSeconds: 0 };
  const row = await readRateLimit(q, key);
  const count = row?.count ?? 0;
  const nextAt = row?.windowStart ?? now;
  if (now < nextAt) return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((nextAt - now) / 1000)) };
  const claimed = await replaceRateLimit(
    q,
    key,
    { count, windowStart: nextAt },
    { count: count + 1, windowStart: now + backoffDelayMs(policy, count + 1) },
  );
  return claimed ? { allowed: true, retryAfterSeconds: 0 } : { allowed: false, retryAfterSeconds: 1 };
}
