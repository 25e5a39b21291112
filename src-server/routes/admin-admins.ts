import { z } from 'zod';
import type { App } from '../http/app-type.js';
import type { ServerContext } from '../context.js';
import { adminGuard, currentAdmin } from '../http/admin-guard.js';
import { ADMIN_ERRORS, ADMIN_SECURITY, OkSchema } from '../http/schemas.js';
import { createAdmin } from '../services/admins.js';
import { ADMIN_PASSWORD_MIN } from '../services/passwords.js';
import { adminsView, assertMayGrantRoles, deleteAdmin, updateAdmin } from '../services/role-admin.js';

const AdminParam = z.strictObject({ username: z.string().min(1).max(256) });
const RoleNames = z.array(z.string().min(1).max(64)).min(1).max(20);

/** Admin accounts. Managing them is role management, so it needs roles.manage; changes need high assurance. */
export async function adminAdminRoutes(app: App, ctx: ServerContext): Promise<void> {
  const tags = ['admins'];
  app.get(
    '/api/v1/admin/admins',
    {
      schema: {
        tags,
        summary: 'Admin accounts with their roles',
        security: ADMIN_SECURITY,
        response: {
          200: z.object({
            admins: z.array(
              z.object({
                username: z.string(),
                status: z.enum(['active', 'disabled']),
                roles: z.array(z.string()),
                createdAt: z.number().int(),
              }),
            ),
          }),
          ...ADMIN_ERRORS,
        },
      },
      preHandler: adminGuard(ctx, { permission: 'roles.manage' }),
    },
    async () => ({ admins: await adminsView(ctx.db) }),
  );

  app.post(
    '/api/v1/admin/admins',
    {
      schema: {
        tags,
        summary: 'Create an admin; returns its TOTP secret once',
        security: ADMIN_SECURITY,
        description: `The password has at least ${ADMIN_PASSWORD_MIN} characters. Only roles whose permissions the caller holds can be given (superadmin only by a superadmin). A name that looks like an existing admin's is refused with 409 conflict.`,
        body: z.strictObject({
          username: z.string().min(1).max(256),
          password: z.string().min(ADMIN_PASSWORD_MIN).max(1024),
          roles: RoleNames,
        }),
        response: {
          201: z.object({
            username: z.string(),
            roles: z.array(z.string()),
            totpSecret: z.string(),
            otpauthUri: z.string(),
          }),
          ...ADMIN_ERRORS,
        },
      },
      preHandler: adminGuard(ctx, { permission: 'roles.manage', highAssurance: true }),
    },
    async (req, reply) => {
      const a = currentAdmin(req);
      await assertMayGrantRoles(ctx.db, a, req.body.roles);
      const made = await createAdmin(ctx, {
        username: req.body.username,
        password: req.body.password,
        roles: req.body.roles,
        actor: { kind: 'admin', name: a.username },
      });
      return reply.code(201).send({
        username: made.username,
        roles: req.body.roles,
        totpSecret: made.totpSecret,
        otpauthUri: made.otpauthUri,
      });
    },
  );

  app.patch(
    '/api/v1/admin/admins/:username',
    {
      schema: {
        tags,
        summary: 'Change an admin’s roles or disable it (ends its sessions)',
        security: ADMIN_SECURITY,
        description:
          'Only by an admin who could grant all of the roles involved: those added, those taken away and, to change its status, all it holds.',
        params: AdminParam,
        body: z.strictObject({ roles: RoleNames.optional(), status: z.enum(['active', 'disabled']).optional() }),
        response: { 200: OkSchema, ...ADMIN_ERRORS },
      },
      preHandler: adminGuard(ctx, { permission: 'roles.manage', highAssurance: true }),
    },
    async (req) => {
      await updateAdmin(ctx, { ...currentAdmin(req) }, req.params.username, req.body);
      return { ok: true as const };
    },
  );

  app.delete(
    '/api/v1/admin/admins/:username',
    {
      schema: {
        tags,
        summary: 'Delete an admin account (its sessions end; audit rows keep its name)',
        security: ADMIN_SECURITY,
        description:
          'Not one’s own account, not the last active superadmin, and only by an admin who could grant all of its roles.',
        params: AdminParam,
        response: { 200: OkSchema, ...ADMIN_ERRORS },
      },
      preHandler: adminGuard(ctx, { permission: 'roles.manage', highAssurance: true }),
    },
    async (req) => {
      await deleteAdmin(ctx, { ...currentAdmin(req) }, req.params.username);
      return { ok: true as const };
    },
  );
}
