import { LifelineError } from '../../src-shared/errors.js';
import { tryNormalizeUsername, USERNAME_MAX } from '../../src-shared/usernames.js';
import type { Queryable } from '../db/port.js';

export { tryNormalizeUsername, USERNAME_MAX };

/** One row of table `users`, as the database returns it (snake_case, times in epoch ms, booleans 0/1). */
export interface UserRow {
  id: number;
  username: string;
  display_name: string | null;
  email: string | null;
  status: 'active' | 'inactive';
  policy_id: number | null;
  code_salt: Buffer;
  pin_hash: Buffer | null;
  pin_salt: Buffer | null;
  pin_generation: number;
  token_generation: number;
  failures: number;
  lock_periods: number;
  locked_until: number | null;
  locked_permanently: number;
  created_at: number;
  updated_at: number;
}

/** As tryNormalizeUsername, but a bad username is a 400 `validation_failed`. */
export function normalizeUsername(input: string): string {
  const s = tryNormalizeUsername(input);
  if (s === undefined) {
    throw new LifelineError('validation_failed', `A username is 1-${USERNAME_MAX} letters, digits, '.', '_', '@' or '-', starting with a letter or digit.`, 400);
  }
  return s;
}

/** The user, or undefined when the name is unknown or not even a valid username. */
export async function findUserByUsername(q: Queryable, username: string): Promise<UserRow | undefined> {
  const name = tryNormalizeUsername(username);
  if (name === undefined) return undefined;
  return q.get<UserRow>('SELECT * FROM users WHERE username = ?', [name]);
}

/** As findUserByUsername, but an unknown user is a 404 (admin API only: the verify API never says a user is unknown). */
export async function requireUser(q: Queryable, username: string): Promise<UserRow> {
  const user = await findUserByUsername(q, username);
  if (!user) throw new LifelineError('not_found', 'No such user.', 404);
  return user;
}

/** The lock state an admin sees; `locked` is true while a timed lock runs or after the permanent lock. */
export function lockState(user: UserRow, now: number): { locked: boolean; lockedUntil: number | null; lockedPermanently: boolean; failures: number; lockPeriods: number } {
  const permanent = user.locked_permanently === 1;
  const timed = user.locked_until !== null && user.locked_until > now;
  return { locked: permanent || timed, lockedUntil: timed ? user.locked_until : null, lockedPermanently: permanent, failures: user.failures, lockPeriods: user.lock_periods };
}
