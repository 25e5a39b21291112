import type { ServerContext } from '../context.js';

const DAY = 24 * 60 * 60 * 1000;

/**
 * Removes rows that can no longer matter: admin sessions past their absolute end or revoked a day ago, and rate-limit
 * counters whose window started over a day ago (every limiter's window is at most an hour). Each is one statement
 * that any instance may run at any time.
 */
export async function pruneExpired(ctx: Pick<ServerContext, 'db' | 'clock'>): Promise<{ sessions: number; rateLimits: number }> {
  const now = ctx.clock.now();
  const sessions = await ctx.db.run('DELETE FROM sessions WHERE expires_at < ? OR revoked_at < ?', [now - DAY, now - DAY]);
  const rateLimits = await ctx.db.run('DELETE FROM rate_limits WHERE window_start < ?', [now - DAY]);
  await ctx.db.run('DELETE FROM radius_requests WHERE expires_at < ?', [now]); // RADIUS duplicate detection, past its window
  await ctx.db.run('DELETE FROM radius_challenges WHERE expires_at < ?', [now]); // RADIUS challenge states nobody answered
  await ctx.db.run('DELETE FROM name_lockouts WHERE expires_at < ?', [now]); // lockout counters of names that are no user (lockout.ts)
  return { sessions: sessions.changes, rateLimits: rateLimits.changes };
}

export function startHousekeeping(ctx: ServerContext, intervalMs = 60 * 60 * 1000): { stop: () => void } {
  const timer = setInterval(() => {
    pruneExpired(ctx).catch((err: unknown) => ctx.log.warn({ component: 'housekeeping', err: String(err) }, 'pruning expired rows failed'));
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
