import { z } from 'zod';
import type { App } from '../http/app-type.js';
import type { ServerContext } from '../context.js';
import { adminGuard, currentAdmin } from '../http/admin-guard.js';
import { ADMIN_ERRORS, ADMIN_SECURITY, OkSchema } from '../http/schemas.js';
import { createApiClient, listApiClients, revokeApiClient } from '../services/api-clients.js';

const ClientView = z.object({
  clientId: z.string(),
  name: z.string(),
  createdAt: z.number().int(),
  createdBy: z.string(),
  revokedAt: z.number().int().nullable(),
});

const ClientIdParam = z.strictObject({ clientId: z.string().min(1).max(64) });

/** API clients of POST /api/v1/verify (VPN gateways, portals): register (key shown once), list, revoke. */
export async function adminClientsRoutes(app: App, ctx: ServerContext): Promise<void> {
  const tags = ['api clients'];

  app.post(
    '/api/v1/admin/clients',
    {
      schema: {
        tags,
        summary: 'Register an API client; returns its key once',
        description: 'Needs clients.manage and high assurance. The key is stored only as a keyed hash.',
        security: ADMIN_SECURITY,
        body: z.strictObject({
          name: z.string().trim().min(1).max(100).describe('What calls with this key, e.g. "vpn-gateway-1"'),
        }),
        response: {
          201: z.object({
            clientId: z.string(),
            key: z.string().describe('Send as Authorization: Bearer <key>. Shown this once.'),
            name: z.string(),
          }),
          ...ADMIN_ERRORS,
        },
      },
      preHandler: adminGuard(ctx, { permission: 'clients.manage', highAssurance: true }),
    },
    async (req, reply) => {
      const created = await createApiClient(ctx, currentAdmin(req).username, req.body.name);
      return reply.code(201).header('cache-control', 'no-store').send(created);
    },
  );

  app.get(
    '/api/v1/admin/clients',
    {
      schema: {
        tags,
        summary: 'List API clients (never their keys)',
        security: ADMIN_SECURITY,
        response: { 200: z.object({ clients: z.array(ClientView) }), ...ADMIN_ERRORS },
      },
      preHandler: adminGuard(ctx, { permission: 'clients.manage' }),
    },
    async () => ({ clients: await listApiClients(ctx.db) }),
  );

  app.delete(
    '/api/v1/admin/clients/:clientId',
    {
      schema: {
        tags,
        summary: 'Revoke an API client: its key stops working at once',
        description:
          "Needs clients.manage and high assurance: revoking a gateway's key cuts off every sign-in through it.",
        security: ADMIN_SECURITY,
        params: ClientIdParam,
        response: { 200: OkSchema, ...ADMIN_ERRORS },
      },
      preHandler: adminGuard(ctx, { permission: 'clients.manage', highAssurance: true }),
    },
    async (req) => {
      await revokeApiClient(ctx, currentAdmin(req).username, req.params.clientId);
      return { ok: true as const };
    },
  );
}
