import { LifelineError } from '../../src-shared/errors.js';
import type { ServerContext } from '../context.js';
import type { Queryable } from '../db/port.js';
import {
  countActiveSuperadmins,
  countAdminsWithRole,
  grantRoleByName,
  revokeAllRoles,
  roleNamesOfAdmin,
} from '../db/queries/admin-roles.js';
import {
  deleteAdmin as deleteAdminRow,
  findAdminStatusByName,
  listAdmins,
  setAdminStatus,
} from '../db/queries/admins.js';
import { deleteRole as deleteRoleRow, insertRole, updateRolePermissions } from '../db/queries/roles.js';
import { appendAudit } from './audit.js';
import { revokeAdminSessions } from './sessions.js';
import {
  assertMayGrant,
  findRole,
  listRoles,
  rolePermissions,
  SUPERADMIN_ROLE,
  type AdminAuthority,
  type Permission,
} from './roles.js';
import { normalizeUsername } from './users.js';

/** Role and admin management. No one grants more than it holds (roles.ts assertMayGrant). */

export const ROLE_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export interface Granter extends AdminAuthority {
  id: number;
  username: string;
}

export async function rolesView(q: Queryable) {
  const roles = [];
  for (const r of await listRoles(q)) {
    roles.push({
      name: r.name,
      builtin: r.builtin,
      permissions: r.name === SUPERADMIN_ROLE ? ['*'] : rolePermissions(r),
      admins: await countAdminsWithRole(q, r.id),
    });
  }
  return roles;
}

export async function createRole(
  ctx: ServerContext,
  granter: Granter,
  name: string,
  permissions: Permission[],
): Promise<void> {
  if (!ROLE_NAME_RE.test(name))
    throw new LifelineError('validation_failed', "A role name is lower-case letters, digits, '.', '_' or '-'.", 400);
  assertMayGrant(granter, name, permissions);
  await ctx.db.tx(async (q) => {
    if (await findRole(q, name)) throw new LifelineError('conflict', 'A role with this name exists.', 409);
    await insertRole(q, name, JSON.stringify([...new Set(permissions)]));
    await appendAudit(q, ctx, {
      type: 'role.created',
      outcome: 'success',
      actorKind: 'admin',
      actor: granter.username,
      details: { role: name, permissions: permissions.join(',') },
    });
  });
}

/** Built-in roles other than superadmin may be changed too: that is how helpdesk gets codes.issue (Imprivata). */
export async function updateRole(
  ctx: ServerContext,
  granter: Granter,
  name: string,
  permissions: Permission[],
): Promise<void> {
  if (name === SUPERADMIN_ROLE)
    throw new LifelineError('conflict', 'The superadmin role always holds every permission.', 409);
  assertMayGrant(granter, name, permissions);
  await ctx.db.tx(async (q) => {
    const role = await findRole(q, name);
    if (!role) throw new LifelineError('not_found', 'No such role.', 404);
    // Taking away a permission one does not hold is granting in reverse: the same rule applies.
    assertMayGrant(granter, name, rolePermissions(role));
    await updateRolePermissions(q, role.id, JSON.stringify([...new Set(permissions)]));
    await appendAudit(q, ctx, {
      type: 'role.updated',
      outcome: 'success',
      actorKind: 'admin',
      actor: granter.username,
      details: { role: name, before: rolePermissions(role).join(','), after: permissions.join(',') },
    });
  });
}

export async function deleteRole(ctx: ServerContext, granter: Granter, name: string): Promise<void> {
  await ctx.db.tx(async (q) => {
    const role = await findRole(q, name);
    if (!role) throw new LifelineError('not_found', 'No such role.', 404);
    if (role.builtin) throw new LifelineError('conflict', 'Built-in roles cannot be deleted.', 409);
    assertMayGrant(granter, name, rolePermissions(role));
    if ((await countAdminsWithRole(q, role.id)) > 0)
      throw new LifelineError('conflict', 'The role is still assigned to admins.', 409);
    await deleteRoleRow(q, role.id);
    await appendAudit(q, ctx, {
      type: 'role.deleted',
      outcome: 'success',
      actorKind: 'admin',
      actor: granter.username,
      details: { role: name },
    });
  });
}

/** Checks, before anything is written, that the granter may hand out every named role. */
export async function assertMayGrantRoles(
  q: Queryable,
  granter: AdminAuthority,
  roleNames: readonly string[],
): Promise<void> {
  for (const name of roleNames) {
    const role = await findRole(q, name);
    if (!role) throw new LifelineError('validation_failed', `No role named ${name}.`, 400);
    assertMayGrant(granter, name, rolePermissions(role));
  }
}

export async function adminsView(q: Queryable) {
  const out = [];
  for (const a of await listAdmins(q)) {
    out.push({
      username: a.username,
      status: a.status,
      roles: await roleNamesOfAdmin(q, a.id, true),
      createdAt: a.createdAt,
    });
  }
  return out;
}

/** Changes an admin's roles or status; disabling ends its sessions. The last active superadmin is kept. */
export async function updateAdmin(
  ctx: ServerContext,
  granter: Granter,
  username: string,
  patch: { roles?: string[]; status?: 'active' | 'disabled' },
): Promise<void> {
  const name = normalizeUsername(username);
  await ctx.db.tx(async (q) => {
    const admin = await findAdminStatusByName(q, name);
    if (!admin) throw new LifelineError('not_found', 'No such admin.', 404);
    if (admin.id === granter.id && patch.status === 'disabled')
      throw new LifelineError('conflict', 'You cannot disable your own account.', 409);
    const current = await roleNamesOfAdmin(q, admin.id);
    if (patch.roles) {
      // Both what is added and what is taken away must be within the granter's reach.
      const touched = [
        ...patch.roles.filter((r) => !current.includes(r)),
        ...current.filter((r) => !patch.roles!.includes(r)),
      ];
      await assertMayGrantRoles(q, granter, touched);
      await revokeAllRoles(q, admin.id);
      for (const r of new Set(patch.roles)) await grantRoleByName(q, admin.id, r);
    }
    if (patch.status && patch.status !== admin.status) {
      // Disabling or re-enabling an admin wields its roles: only someone who could grant them all may (as creating it).
      await assertMayGrantRoles(q, granter, current);
      await setAdminStatus(q, admin.id, patch.status);
      if (patch.status === 'disabled') await revokeAdminSessions(q, admin.id, ctx.clock.now());
    }
    if ((await countActiveSuperadmins(q)) === 0)
      throw new LifelineError('conflict', 'At least one active superadmin must remain.', 409);
    await appendAudit(q, ctx, {
      type: 'admin.updated',
      outcome: 'success',
      actorKind: 'admin',
      actor: granter.username,
      subject: name,
      details: {
        ...(patch.roles ? { roles: patch.roles.join(',') } : {}),
        ...(patch.status ? { status: patch.status } : {}),
      },
    });
  });
}

/**
 * Deletes an admin account (its sessions go with it). Audit rows keep its name. The same guards as disabling:
 * not oneself, not the last active superadmin, and only by someone who could have granted all of its roles.
 */
export async function deleteAdmin(ctx: ServerContext, granter: Granter, username: string): Promise<void> {
  const name = normalizeUsername(username);
  await ctx.db.tx(async (q) => {
    const admin = await findAdminStatusByName(q, name);
    if (!admin) throw new LifelineError('not_found', 'No such admin.', 404);
    if (admin.id === granter.id) throw new LifelineError('conflict', 'You cannot delete your own account.', 409);
    const roles = await roleNamesOfAdmin(q, admin.id);
    await assertMayGrantRoles(q, granter, roles);
    await deleteAdminRow(q, admin.id);
    if ((await countActiveSuperadmins(q)) === 0)
      throw new LifelineError('conflict', 'At least one active superadmin must remain.', 409);
    await appendAudit(q, ctx, {
      type: 'admin.deleted',
      outcome: 'success',
      actorKind: 'admin',
      actor: granter.username,
      subject: name,
      details: { roles: roles.join(',') },
    });
  });
}
