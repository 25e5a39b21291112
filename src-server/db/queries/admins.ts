import type { Queryable, Row } from '../port.js';

export type AdminStatus = 'active' | 'disabled';

/** An admin account (table `admins`). */
export interface AdminRecord {
  id: number;
  username: string;
  passwordHash: string;
  totpSeedEnc: Buffer;
  lastTotpStep: number;
  status: AdminStatus;
  createdAt: number;
}

function toAdminRecord(r: Row): AdminRecord {
  return {
    id: Number(r.id),
    username: r.username as string,
    passwordHash: r.password_hash as string,
    totpSeedEnc: r.totp_seed_enc as Buffer,
    lastTotpStep: Number(r.last_totp_step),
    status: r.status as AdminStatus,
    createdAt: Number(r.created_at),
  };
}

/** By the normalised username. */
export async function findAdminByName(q: Queryable, username: string): Promise<AdminRecord | undefined> {
  const row = await q.get('SELECT * FROM admins WHERE username = ?', [username]);
  return row ? toAdminRecord(row) : undefined;
}

/** What a session's admin is now (the guard checks it on every request). */
export async function findAdminStatusById(
  q: Queryable,
  id: number,
): Promise<{ id: number; username: string; status: AdminStatus } | undefined> {
  const row = await q.get<{ id: number; username: string; status: AdminStatus }>(
    'SELECT id, username, status FROM admins WHERE id = ?',
    [id],
  );
  return row ? { id: Number(row.id), username: row.username, status: row.status } : undefined;
}

export async function findAdminStatusByName(
  q: Queryable,
  username: string,
): Promise<{ id: number; status: AdminStatus } | undefined> {
  const row = await q.get<{ id: number; status: AdminStatus }>('SELECT id, status FROM admins WHERE username = ?', [
    username,
  ]);
  return row ? { id: Number(row.id), status: row.status } : undefined;
}

export async function adminNameTaken(q: Queryable, username: string): Promise<boolean> {
  return (await q.get('SELECT id FROM admins WHERE username = ?', [username])) !== undefined;
}

export async function anyAdminExists(q: Queryable): Promise<boolean> {
  return (await q.get('SELECT id FROM admins LIMIT 1')) !== undefined;
}

/** Every admin name (the confusable-names check reads them all once). */
export async function allAdminNames(q: Queryable): Promise<string[]> {
  return (await q.all<{ username: string }>('SELECT username FROM admins')).map((r) => r.username);
}

/** Returns the new admin's id. */
export async function insertAdmin(
  q: Queryable,
  a: { username: string; passwordHash: string; totpSeedEnc: Buffer; now: number },
): Promise<number> {
  const row = await q.get<{ id: number }>(
    'INSERT INTO admins (username, password_hash, totp_seed_enc, created_at) VALUES (?, ?, ?, ?) RETURNING id',
    [a.username, a.passwordHash, a.totpSeedEnc, a.now],
  );
  return Number(row!.id);
}

/** The admins' replay guard: spends `step` once, upwards only; false for a replayed (or older) step. */
export async function advanceAdminTotpStep(q: Queryable, adminId: number, step: number): Promise<boolean> {
  return (
    (await q.run('UPDATE admins SET last_totp_step = ? WHERE id = ? AND last_totp_step < ?', [step, adminId, step]))
      .changes === 1
  );
}

export async function listAdmins(
  q: Queryable,
): Promise<{ id: number; username: string; status: AdminStatus; createdAt: number }[]> {
  const rows = await q.all<{ id: number; username: string; status: AdminStatus; created_at: number }>(
    'SELECT id, username, status, created_at FROM admins ORDER BY username',
  );
  return rows.map((a) => ({
    id: Number(a.id),
    username: a.username,
    status: a.status,
    createdAt: Number(a.created_at),
  }));
}

export async function setAdminStatus(q: Queryable, adminId: number, status: AdminStatus): Promise<void> {
  await q.run('UPDATE admins SET status = ? WHERE id = ?', [status, adminId]);
}

export async function deleteAdmin(q: Queryable, adminId: number): Promise<void> {
  await q.run('DELETE FROM admins WHERE id = ?', [adminId]);
}
