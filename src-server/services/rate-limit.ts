import type { Queryable } from '../db/port.js';

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
export async function hitRateLimit(q: Queryable, key: string, limit: number, windowMs: number, now: number): Promise<RateLimitResult> {
  await q.run('INSERT INTO rate_limits (key, window_start, count) VALUES (?, ?, 0) ON CONFLICT (key) DO NOTHING', [key, now]);
  await q.run('UPDATE rate_limits SET window_start = ?, count = 0 WHERE key = ? AND window_start <= ?', [now, key, now - windowMs]);
  const counted = await q.run('UPDATE rate_limits SET count = count + 1 WHERE key = ? AND count < ?', [key, limit]);
  if (counted.changes === 1) return { allowed: true, retryAfterSeconds: 0 };
  const row = await q.get<{ window_start: number }>('SELECT window_start FROM rate_limits WHERE key = ?', [key]);
  const resetAt = Number(row?.window_start ?? now) + windowMs;
  return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((resetAt - now) / 1000)) };
}

/** Forgets a counter (e.g. an admin's failed logins after a successful one). */
export async function resetRateLimit(q: Queryable, key: string): Promise<void> {
  await q.run('DELETE FROM rate_limits WHERE key = ?', [key]);
}
