import type { ServerContext } from '../context.js';
import { pruneNameLockouts } from '../db/queries/name-lockouts.js';
import { pruneChallenges } from '../db/queries/radius-challenges.js';
import { pruneRadiusRequests } from '../db/queries/radius-requests.js';
import { pruneRateLimits } from '../db/queries/rate-limits.js';
import { pruneSessions } from '../db/queries/sessions.js';

const DAY = 24 * 60 * 60 * 1000;

/**
 * Removes rows that can no longer matter: admin sessions past their absolute end or revoked a day ago, and rate-limit
 * counters whose window started over a day ago (every limiter's window is at most an hour). Each is one statement
 * that any instance may run at any time.
 */
export async function pruneExpired(
  ctx: Pick<ServerContext, 'db' | 'clock'>,
): Promise<{ sessions: number; rateLimits: number }> {
  const now = ctx.clock.now();
  const sessions = await pruneSessions(ctx.db, now - DAY);
  const rateLimits = await pruneRateLimits(ctx.db, now - DAY);
  await pruneRadiusRequests(ctx.db, now); // RADIUS duplicate detection, past its window
  await pruneChallenges(ctx.db, now); // RADIUS challenge states nobody answered
  await pruneNameLockouts(ctx.db, now); // lockout counters of names that are no user (lockout.ts)
  return { sessions, rateLimits };
}

export function startHousekeeping(ctx: ServerContext, intervalMs = 60 * 60 * 1000): { stop: () => void } {
  const timer = setInterval(() => {
    pruneExpired(ctx).catch((err: unknown) =>
      ctx.log.warn({ component: 'housekeeping', err: String(err) }, 'pruning expired rows failed'),
    );
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
