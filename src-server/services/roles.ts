import { z } from 'zod';
import { LifelineError } from '../../src-shared/errors.js';
import type { Queryable } from '../db/port.js';
import { rolesOfAdmin } from '../db/queries/admin-roles.js';
import type { RoleRecord } from '../db/queries/roles.js';

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

export function rolePermissions(row: Pick<RoleRecord, 'permissions'>): Permission[] {
  return z.array(PermissionSchema).parse(JSON.parse(row.permissions));
}

export interface AdminAuthority {
  roles: string[];
  permissions: ReadonlySet<Permission>;
  isSuperadmin: boolean;
}

/** What an admin may do: the union of its roles' permissions; a superadmin may do everything, present or future. */
export async function authorityOf(q: Queryable, adminId: number): Promise<AdminAuthority> {
  const rows = await rolesOfAdmin(q, adminId);
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
  if (roleName === SUPERADMIN_ROLE)
    throw new LifelineError('forbidden', 'Only a superadmin may grant the superadmin role.', 403);
  const missing = permissions.filter((p) => !granter.permissions.has(p));
  if (missing.length)
    throw new LifelineError('forbidden', `You cannot grant permissions you do not hold: ${missing.join(', ')}.`, 403);
}

export { findRole, listRoles } from '../db/queries/roles.js';
