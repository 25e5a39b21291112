import { z } from 'zod';
import type { App } from '../http/app-type.js';
import type { ServerContext } from '../context.js';
import { adminGuard, currentAdmin } from '../http/admin-guard.js';
import { ADMIN_ERRORS, ADMIN_SECURITY, OkSchema } from '../http/schemas.js';
import { createRole, deleteRole, rolesView, updateRole } from '../services/role-admin.js';
import { PERMISSIONS, PermissionSchema } from '../services/roles.js';

const RoleParam = z.strictObject({ name: z.string().min(1).max(64) });
const Permissions = z
  .array(PermissionSchema)
  .max(PERMISSIONS.length * 2)
  .describe('Permissions the role grants');

/** Roles: built-in superadmin/helpdesk/auditor plus custom ones. Needs roles.manage; changes need high assurance. */
export async function adminRoleRoutes(app: App, ctx: ServerContext): Promise<void> {
  const tags = ['roles'];
  const RoleList = z.object({
    roles: z.array(
      z.object({ name: z.string(), builtin: z.boolean(), permissions: z.array(z.string()), admins: z.number().int() }),
    ),
    permissions: z.array(PermissionSchema).describe('Every permission that exists'),
  });

  app.get(
    '/api/v1/admin/roles',
    {
      schema: {
        tags,
        summary: 'Roles and their permissions',
        security: ADMIN_SECURITY,
        response: { 200: RoleList, ...ADMIN_ERRORS },
      },
      preHandler: adminGuard(ctx, { permission: 'roles.manage' }),
    },
    async () => ({ roles: await rolesView(ctx.db), permissions: [...PERMISSIONS] }),
  );

  app.post(
    '/api/v1/admin/roles',
    {
      schema: {
        tags,
        summary: 'Create a custom role',
        security: ADMIN_SECURITY,
        description: 'A non-superadmin can only grant permissions it holds itself.',
        body: z.strictObject({ name: z.string().min(1).max(64), permissions: Permissions }),
        response: { 201: OkSchema, ...ADMIN_ERRORS },
      },
      preHandler: adminGuard(ctx, { permission: 'roles.manage', highAssurance: true }),
    },
    async (req, reply) => {
      const a = currentAdmin(req);
      await createRole(ctx, { ...a }, req.body.name, req.body.permissions);
      return reply.code(201).send({ ok: true as const });
    },
  );

  app.patch(
    '/api/v1/admin/roles/:name',
    {
      schema: {
        tags,
        summary: 'Replace a role’s permissions (e.g. give helpdesk codes.issue)',
        security: ADMIN_SECURITY,
        params: RoleParam,
        body: z.strictObject({ permissions: Permissions }),
        response: { 200: OkSchema, ...ADMIN_ERRORS },
      },
      preHandler: adminGuard(ctx, { permission: 'roles.manage', highAssurance: true }),
    },
    async (req) => {
      await updateRole(ctx, { ...currentAdmin(req) }, req.params.name, req.body.permissions);
      return { ok: true as const };
    },
  );

  app.delete(
    '/api/v1/admin/roles/:name',
    {
      schema: {
        tags,
        summary: 'Delete a custom role that no admin holds',
        security: ADMIN_SECURITY,
        params: RoleParam,
        response: { 200: OkSchema, ...ADMIN_ERRORS },
      },
      preHandler: adminGuard(ctx, { permission: 'roles.manage', highAssurance: true }),
    },
    async (req) => {
      await deleteRole(ctx, { ...currentAdmin(req) }, req.params.name);
      return { ok: true as const };
    },
  );
}
