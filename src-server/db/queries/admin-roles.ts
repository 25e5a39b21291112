import type { Queryable } from '../port.js';
import { toRoleRecord, type RoleRecord } from './roles.js';

/** Which roles each admin holds (table `admin_roles`). */

export async function grantRole(q: Queryable, adminId: number, roleId: number): Promise<void> {
  await q.run('INSERT INTO admin_roles (admin_id, role_id) VALUES (?, ?)', [adminId, roleId]);
}

/** Grants the role of that name (nothing when there is none). */
export async function grantRoleByName(q: Queryable, adminId: number, roleName: string): Promise<void> {
  await q.run('INSERT INTO admin_roles (admin_id, role_id) SELECT ?, id FROM roles WHERE name = ?', [
    adminId,
    roleName,
  ]);
}

export async function revokeAllRoles(q: Queryable, adminId: number): Promise<void> {
  await q.run('DELETE FROM admin_roles WHERE admin_id = ?', [adminId]);
}

/** The admin's roles, by name. */
export async function rolesOfAdmin(q: Queryable, adminId: number): Promise<RoleRecord[]> {
  return (
    await q.all(
      'SELECT r.* FROM roles r JOIN admin_roles ar ON ar.role_id = r.id WHERE ar.admin_id = ? ORDER BY r.name',
      [adminId],
    )
  ).map(toRoleRecord);
}

/** The names of the admin's roles; `ordered` sorts them by name (else in the engine's order). */
export async function roleNamesOfAdmin(q: Queryable, adminId: number, ordered = false): Promise<string[]> {
  const rows = ordered
    ? await q.all<{ name: string }>(
        'SELECT r.name FROM roles r JOIN admin_roles ar ON ar.role_id = r.id WHERE ar.admin_id = ? ORDER BY r.name',
        [adminId],
      )
    : await q.all<{ name: string }>(
        'SELECT r.name FROM roles r JOIN admin_roles ar ON ar.role_id = r.id WHERE ar.admin_id = ?',
        [adminId],
      );
  return rows.map((r) => r.name);
}

export async function countAdminsWithRole(q: Queryable, roleId: number): Promise<number> {
  const n = await q.get<{ n: number }>('SELECT COUNT(*) AS n FROM admin_roles WHERE role_id = ?', [roleId]);
  return Number(n?.n ?? 0);
}

export async function countActiveSuperadmins(q: Queryable): Promise<number> {
  const n = await q.get<{ n: number }>(
    "SELECT COUNT(*) AS n FROM admins a JOIN admin_roles ar ON ar.admin_id = a.id JOIN roles r ON r.id = ar.role_id WHERE r.name = 'superadmin' AND a.status = 'active'",
  );
  return Number(n?.n ?? 0);
}
