import type { Queryable, Row } from '../port.js';

/** A role (table `roles`); `permissions` is the stored JSON array, validated by services/roles.ts. */
export interface RoleRecord {
  id: number;
  name: string;
  builtin: boolean;
  permissions: string;
}

export function toRoleRecord(r: Row): RoleRecord {
  return {
    id: Number(r.id),
    name: r.name as string,
    builtin: Number(r.builtin) === 1,
    permissions: r.permissions as string,
  };
}

/** Built-in roles first, then by name. */
export async function listRoles(q: Queryable): Promise<RoleRecord[]> {
  return (await q.all('SELECT * FROM roles ORDER BY builtin DESC, name')).map(toRoleRecord);
}

export async function findRole(q: Queryable, name: string): Promise<RoleRecord | undefined> {
  const row = await q.get('SELECT * FROM roles WHERE name = ?', [name]);
  return row ? toRoleRecord(row) : undefined;
}

export async function insertRole(q: Queryable, name: string, permissions: string): Promise<void> {
  await q.run('INSERT INTO roles (name, builtin, permissions) VALUES (?, 0, ?)', [name, permissions]);
}

export async function updateRolePermissions(q: Queryable, roleId: number, permissions: string): Promise<void> {
  await q.run('UPDATE roles SET permissions = ? WHERE id = ?', [permissions, roleId]);
}

export async function deleteRole(q: Queryable, roleId: number): Promise<void> {
  await q.run('DELETE FROM roles WHERE id = ?', [roleId]);
}
