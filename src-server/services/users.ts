import { LifelineError } from '../../src-shared/errors.js';
import { tryNormalizeUsername, USERNAME_MAX } from '../../src-shared/usernames.js';
import type { Queryable } from '../db/port.js';
import { findUserByName, type UserRecord } from '../db/queries/users.js';

export { tryNormalizeUsername, USERNAME_MAX };

/** As tryNormalizeUsername, but a bad username is a 400 `validation_failed`. */
export function normalizeUsername(input: string): string {
  const s = tryNormalizeUsername(input);
  if (s === undefined) {
    throw new LifelineError(
      'validation_failed',
      `A username is 1-${USERNAME_MAX} letters, digits, '.', '_', '@' or '-', starting with a letter or digit.`,
      400,
    );
  }
  return s;
}

/** The user, or undefined when the name is unknown or not even a valid username. */
export async function findUserByUsername(q: Queryable, username: string): Promise<UserRecord | undefined> {
  const name = tryNormalizeUsername(username);
  if (name === undefined) return undefined;
  return findUserByName(q, name);
}

/** As findUserByUsername, but an unknown user is a 404 (admin API only: the verify API never says a user is unknown). */
export async function requireUser(q: Queryable, username: string): Promise<UserRecord> {
  const user = await findUserByUsername(q, username);
  if (!user) throw new LifelineError('not_found', 'No such user.', 404);
  return user;
}

/** The lock state an admin sees; `locked` is true while a timed lock runs or after the permanent lock. */
export function lockState(
  user: UserRecord,
  now: number,
): { locked: boolean; lockedUntil: number | null; lockedPermanently: boolean; failures: number; lockPeriods: number } {
  const permanent = user.lockedPermanently;
  const timed = user.lockedUntil !== null && user.lockedUntil > now;
  return {
    locked: permanent || timed,
    lockedUntil: timed ? user.lockedUntil : null,
    lockedPermanently: permanent,
    failures: user.failures,
    lockPeriods: user.lockPeriods,
  };
}
