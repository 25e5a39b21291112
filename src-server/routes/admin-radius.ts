import { z } from 'zod';
import { randomBytes } from '../../src-shared/crypto/random.js';
import { LifelineError } from '../../src-shared/errors.js';
import type { App } from '../app.js';
import type { ServerContext } from '../context.js';
import { adminGuard, currentAdmin } from '../http/admin-guard.js';
import { ADMIN_ERRORS, ADMIN_SECURITY, OkSchema } from '../http/schemas.js';
import { CidrSchema, deleteRadiusClient, insertRadiusClient, listRadiusClients, noteRadiusClientsChanged, type RadiusClientRow } from '../radius/clients.js';
import { appendAudit } from '../services/audit.js';

/**
 * RADIUS clients (NAS: VPN gateways, firewalls), registered by an admin with clients.manage. The shared secret is
 * generated here and shown once: 32 hex characters (128 bits) because every gateway's configuration accepts them.
 */
const NameSchema = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" or "-"')
  .describe('Names the NAS in audit rows');

const CreateBody = z.strictObject({
  name: NameSchema,
  addresses: z.array(CidrSchema).min(1).max(64).describe('Source addresses or CIDRs the NAS sends from'),
  requireMessageAuthenticator: z
    .boolean()
    .default(true)
    .describe('BlastRADIUS (CVE-2024-3596) protection; turn off only for gateways that cannot send Message-Authenticator (audited)'),
});

const ClientView = z.object({
  name: z.string(),
  addresses: z.array(z.string()),
  requireMessageAuthenticator: z.boolean(),
  createdAt: z.number().int(),
  createdBy: z.string(),
});

const SECRET_BYTES = 16;

function view(row: RadiusClientRow): z.infer<typeof ClientView> {
  return {
    name: row.name,
    addresses: JSON.parse(row.addresses) as string[],
    requireMessageAuthenticator: Number(row.require_message_authenticator) === 1,
    createdAt: Number(row.created_at),
    createdBy: row.created_by,
  };
}

export async function adminRadiusRoutes(app: App, ctx: ServerContext): Promise<void> {
  app.post(
    '/api/v1/admin/radius-clients',
    {
      preHandler: adminGuard(ctx, { permission: 'clients.manage', highAssurance: true }),
      schema: {
        tags: ['radius'],
        summary: 'Register a RADIUS client (NAS); the shared secret is returned once',
        security: ADMIN_SECURITY,
        body: CreateBody,
        response: { 201: ClientView.extend({ secret: z.string().describe('The shared secret; shown only now') }), ...ADMIN_ERRORS },
      },
    },
    async (req, reply) => {
      const admin = currentAdmin(req);
      const secret = randomBytes(SECRET_BYTES).toString('hex');
      const { name, addresses, requireMessageAuthenticator } = req.body;
      const row = await ctx.db.tx(async (q) => {
        const inserted = await insertRadiusClient(q, ctx, { name, addresses, secret: Buffer.from(secret), requireMessageAuthenticator, createdBy: admin.username });
        await appendAudit(q, ctx, {
          type: 'radius.client.created',
          outcome: 'success',
          actorKind: 'admin',
          actor: admin.username,
          details: { radiusClient: name, addresses: addresses.join(','), requireMessageAuthenticator },
        });
        if (!requireMessageAuthenticator) {
          await appendAudit(q, ctx, {
            type: 'radius.client.message_authenticator_relaxed',
            outcome: 'info',
            actorKind: 'admin',
            actor: admin.username,
            reason: 'client registered without the Message-Authenticator requirement (BlastRADIUS protection off)',
            details: { radiusClient: name },
          });
        }
        return inserted;
      });
      noteRadiusClientsChanged();
      return reply.code(201).send({ ...view(row), secret });
    },
  );

  app.get(
    '/api/v1/admin/radius-clients',
    {
      preHandler: adminGuard(ctx, { permission: 'clients.manage' }),
      schema: {
        tags: ['radius'],
        summary: 'List RADIUS clients (never their secrets)',
        security: ADMIN_SECURITY,
        response: { 200: z.object({ clients: z.array(ClientView) }), ...ADMIN_ERRORS },
      },
    },
    async () => ({ clients: (await listRadiusClients(ctx.db)).map(view) }),
  );

  app.delete(
    '/api/v1/admin/radius-clients/:name',
    {
      preHandler: adminGuard(ctx, { permission: 'clients.manage', highAssurance: true }),
      schema: {
        tags: ['radius'],
        summary: 'Remove a RADIUS client; its packets are dropped from then on',
        security: ADMIN_SECURITY,
        params: z.strictObject({ name: NameSchema }),
        response: { 200: OkSchema, ...ADMIN_ERRORS },
      },
    },
    async (req) => {
      const admin = currentAdmin(req);
      await ctx.db.tx(async (q) => {
        const removed = await deleteRadiusClient(q, req.params.name);
        if (!removed) throw new LifelineError('not_found', 'No such RADIUS client.', 404);
        await appendAudit(q, ctx, { type: 'radius.client.deleted', outcome: 'success', actorKind: 'admin', actor: admin.username, details: { radiusClient: removed.name } });
      });
      noteRadiusClientsChanged();
      return { ok: true as const };
    },
  );
}
