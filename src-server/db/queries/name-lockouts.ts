import type { Queryable } from '../port.js';

/**
 * The lockout row of a name that is no active user (table `name_lockouts`; its counters are written through
 * lock-counters.ts). Rows are forgotten at expires_at.
 */

/**
 * The name's row, fresh when it was forgotten. Two statements are safe without a transaction: the DELETE only takes
 * a row past its expiry, which no attempt in flight can have (the lease is far shorter).
 */
export async function rememberName(q: Queryable, username: string, expiresAt: number, now: number): Promise<void> {
  await q.run('DELETE FROM name_lockouts WHERE username = ? AND expires_at <= ?', [username, now]);
  await q.run(
    'INSERT INTO name_lockouts (username, updated_at, expires_at) VALUES (?, ?, ?) ON CONFLICT (username) DO UPDATE SET expires_at = excluded.expires_at',
    [username, now, expiresAt],
  );
}

export async function setNameExpiry(q: Queryable, username: string, expiresAt: number): Promise<void> {
  await q.run('UPDATE name_lockouts SET expires_at = ? WHERE username = ?', [expiresAt, username]);
}

/** Housekeeping: rows past their expiry. */
export async function pruneNameLockouts(q: Queryable, now: number): Promise<number> {
  return (await q.run('DELETE FROM name_lockouts WHERE expires_at < ?', [now])).changes;
}
