import type { Param, Queryable, Row } from '../port.js';

/** One user (table `users`), converted once from the stored row: camelCase, times in epoch ms, flags as booleans. */
export interface UserRecord {
  id: number;
  username: string;
  displayName: string | null;
  email: string | null;
  status: 'active' | 'inactive';
  policyId: number | null;
  codeSalt: Buffer;
  pinHash: Buffer | null;
  pinSalt: Buffer | null;
  pinGeneration: number;
  tokenGeneration: number;
  failures: number;
  lockPeriods: number;
  lockedUntil: number | null;
  lockedPermanently: boolean;
  createdAt: number;
  updatedAt: number;
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export function toUserRecord(r: Row): UserRecord {
  return {
    id: Number(r.id),
    username: r.username as string,
    displayName: (r.display_name as string | null) ?? null,
    email: (r.email as string | null) ?? null,
    status: r.status as UserRecord['status'],
    policyId: num(r.policy_id),
    codeSalt: r.code_salt as Buffer,
    pinHash: (r.pin_hash as Buffer | null) ?? null,
    pinSalt: (r.pin_salt as Buffer | null) ?? null,
    pinGeneration: Number(r.pin_generation),
    tokenGeneration: Number(r.token_generation),
    failures: Number(r.failures),
    lockPeriods: Number(r.lock_periods),
    lockedUntil: num(r.locked_until),
    lockedPermanently: Number(r.locked_permanently) === 1,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

const maybe = (r: Row | undefined): UserRecord | undefined => (r ? toUserRecord(r) : undefined);

/** By the normalised username. */
export async function findUserByName(q: Queryable, username: string): Promise<UserRecord | undefined> {
  return maybe(await q.get('SELECT * FROM users WHERE username = ?', [username]));
}

export async function userNameTaken(q: Queryable, username: string): Promise<boolean> {
  return (await q.get('SELECT id FROM users WHERE username = ?', [username])) !== undefined;
}

/** Every username (the confusable-names check reads them all once). */
export async function allUsernames(q: Queryable): Promise<string[]> {
  return (await q.all<{ username: string }>('SELECT username FROM users')).map((r) => r.username);
}

export async function insertUser(
  q: Queryable,
  u: {
    username: string;
    displayName: string | null;
    email: string | null;
    status: UserRecord['status'];
    policyId: number | null;
    codeSalt: Buffer;
    now: number;
  },
): Promise<UserRecord> {
  const row = await q.get(
    `INSERT INTO users (username, display_name, email, status, policy_id, code_salt, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
    [u.username, u.displayName, u.email, u.status, u.policyId, u.codeSalt, u.now, u.now],
  );
  return toUserRecord(row!);
}

/** Users whose name, display name or email contains `search` (any case), by username. */
export async function searchUsers(
  q: Queryable,
  search: string | undefined,
  limit: number,
  offset: number,
): Promise<UserRecord[]> {
  const params: Param[] = [];
  let where = '';
  if (search) {
    const like =
      '%' +
      search
        .normalize('NFC')
        .toLowerCase()
        .replace(/[%_\\]/g, '\\$&') +
      '%';
    where =
      "WHERE username LIKE ? ESCAPE '\\' OR LOWER(display_name) LIKE ? ESCAPE '\\' OR LOWER(email) LIKE ? ESCAPE '\\'";
    params.push(like, like, like);
  }
  return (
    await q.all(`SELECT * FROM users ${where} ORDER BY username LIMIT ? OFFSET ?`, [...params, limit, offset])
  ).map(toUserRecord);
}

/** The admin-editable fields; only those given are written (with updated_at). */
export interface UserFieldsPatch {
  status?: UserRecord['status'];
  policyId?: number | null;
  displayName?: string | null;
  email?: string | null;
}
const PATCH_COLUMNS = { status: 'status', policyId: 'policy_id', displayName: 'display_name', email: 'email' } as const;

export async function updateUserFields(
  q: Queryable,
  userId: number,
  patch: UserFieldsPatch,
  now: number,
): Promise<UserRecord> {
  const sets: string[] = [];
  const params: Param[] = [];
  for (const [field, column] of Object.entries(PATCH_COLUMNS) as [keyof UserFieldsPatch, string][]) {
    if (!(field in patch)) continue;
    sets.push(`${column} = ?`);
    params.push(patch[field] ?? null);
  }
  const row = await q.get(`UPDATE users SET ${sets.join(', ')}, updated_at = ? WHERE id = ? RETURNING *`, [
    ...params,
    now,
    userId,
  ]);
  return toUserRecord(row!);
}

/**
 * Touches the row only while the user is active: false when it is not. Also holds the user's row until commit, so
 * concurrent issues for one user run one after the other on PostgreSQL too.
 */
export async function touchActiveUser(q: Queryable, userId: number, now: number): Promise<boolean> {
  return (
    (await q.run("UPDATE users SET updated_at = ? WHERE id = ? AND status = 'active'", [now, userId])).changes === 1
  );
}

/** A new or deleted token: agents drop the old token's offline windows. */
export async function bumpTokenGeneration(q: Queryable, userId: number, now: number): Promise<void> {
  await q.run('UPDATE users SET token_generation = token_generation + 1, updated_at = ? WHERE id = ?', [now, userId]);
}

/** False when there is no such user. */
export async function setUserPin(
  q: Queryable,
  userId: number,
  pin: { hash: Buffer; salt: Buffer },
  now: number,
): Promise<boolean> {
  const r = await q.run(
    'UPDATE users SET pin_hash = ?, pin_salt = ?, pin_generation = pin_generation + 1, updated_at = ? WHERE id = ?',
    [pin.hash, pin.salt, now, userId],
  );
  return r.changes === 1;
}

/** A success ends the lock period count (places in flight stay theirs). */
export async function resetUserFailures(q: Queryable, userId: number, now: number): Promise<void> {
  await q.run(
    'UPDATE users SET failures = 0, lock_periods = 0, locked_until = NULL, locked_permanently = 0, updated_at = ? WHERE id = ?',
    [now, userId],
  );
}

export async function userEmail(q: Queryable, userId: number): Promise<string | null> {
  const row = await q.get<{ email: string | null }>('SELECT email FROM users WHERE id = ?', [userId]);
  return row?.email ?? null;
}

export async function countUsersWithPolicy(q: Queryable, policyId: number): Promise<number> {
  const n = await q.get<{ n: number }>('SELECT COUNT(*) AS n FROM users WHERE policy_id = ?', [policyId]);
  return Number(n?.n ?? 0);
}
