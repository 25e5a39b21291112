import { z } from 'zod';
import { LifelineError } from '../../src-shared/errors.js';
import type { Queryable } from '../db/port.js';

export const PERMISSIONS = [
  'settings.manage',
  'roles.manage',
  'users.manage',
  'tokens.manage',
  'codes.issue',
  'codes.revoke',
  'offline.reveal',
  'audit.read',
  'clients.manage',
  'devices.manage',
] as const;
export const PermissionSchema = z.enum(PERMISSIONS);
export type Permission = z.infer<typeof PermissionSchema>;

export const SUPERADMIN_ROLE = 'superadmin';

export interface RoleRow {
  id: number;
  name: string;
  builtin: number;
  permissions: string;
}

export function rolePermissions(row: Pick<RoleRow, 'permissions'>): Permission[] {
  return z.array(PermissionSchema).parse(JSON.parse(row.permissions));
}

export interface AdminAuthority {
  roles: string[];
  permissions: ReadonlySet<Permission>;
  isSuperadmin: boolean;
}

/** What an admin may do: the union of its roles' permissions; a superadmin may do everything, present or future. */
export async function authorityOf(q: Queryable, adminId: number): Promise<AdminAuthority> {
  const rows = await q.all<RoleRow>(
    'SELECT r.* FROM roles r JOIN admin_roles ar ON ar.role_id = r.id WHERE ar.admin_id = ? ORDER BY r.name',
    [adminId],
  );
  const isSuperadmin = rows.some((r) => r.name === SUPERADMIN_ROLE);
  const permissions = new Set<Permission>(isSuperadmin ? PERMISSIONS : rows.flatMap(rolePermissions));
  return { roles: rows.map((r) => r.name), permissions, isSuperadmin };
}

/**
 * No one hands out more than they hold: a non-superadmin may only create, change or assign roles whose permissions
 * are all its own, and only a superadmin may assign the superadmin role.
 */
export function assertMayGrant(granter: AdminAuthority, roleName: string, permissions: readonly Permission[]): void {
  if (granter.isSuperadmin) return;
  if (roleName === SUPERADMIN_ROLE) throw new LifelineError('forbidden', 'Only a superadmin may grant the superadmin role.', 403);
  const missing = permissions.filter((p) => !granter.permissions.has(p));
  if (missing.length) throw new LifelineError('forbidden', `You cannot grant permissions you do not hold: ${missing.join(', ')}.`, 403);
}

export async function listRoles(q: Queryable): Promise<RoleRow[]> {
  return q.all<RoleRow>('SELECT * FROM roles ORDER BY builtin DESC, name');
}

export async function findRole(q: Queryable, name: string): Promise<RoleRow | undefined> {
  return q.get<RoleRow>('SELECT * FROM roles WHERE name = ?', [name]);
}
