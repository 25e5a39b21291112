import { z } from 'zod';
import type { App } from '../http/app-type.js';
import type { ServerContext } from '../context.js';
import { adminGuard } from '../http/admin-guard.js';
import { ADMIN_ERRORS, ADMIN_SECURITY, EpochMsQuery } from '../http/schemas.js';
import { queryAudit } from '../services/audit.js';
import { tryNormalizeUsername } from '../services/users.js';

const AuditEventSchema = z.object({
  id: z.number().int(),
  at: z.number().int(),
  type: z.string(),
  outcome: z.enum(['success', 'failure', 'info']),
  actorKind: z.string(),
  actor: z.string().nullable(),
  subject: z.string().nullable(),
  device: z.string().nullable(),
  purpose: z.string().nullable(),
  method: z.string().nullable(),
  reason: z.string().nullable(),
  details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
  hash: z.string().nullable(),
});

/** The audit log, newest first, with filters and paging (`before` = the `nextBefore` of the previous page). */
export async function adminAuditRoutes(app: App, ctx: ServerContext): Promise<void> {
  app.get(
    '/api/v1/admin/audit',
    {
      schema: {
        tags: ['audit'],
        summary: 'Read the audit log',
        security: ADMIN_SECURITY,
        description:
          'Needs audit.read. `type` matches exactly, or as a prefix when it ends in "." (e.g. `verify.`). Times are epoch ms.',
        querystring: z.strictObject({
          username: z.string().max(256).optional().describe('Subject user'),
          type: z.string().max(100).optional(),
          actor: z.string().max(256).optional(),
          device: z.string().max(200).optional(),
          since: EpochMsQuery.optional(),
          until: EpochMsQuery.optional(),
          before: z.coerce.number().int().min(1).optional().describe('Only events with a smaller id (paging)'),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
        }),
        response: {
          200: z.object({ events: z.array(AuditEventSchema), nextBefore: z.number().int().nullable() }),
          ...ADMIN_ERRORS,
        },
      },
      preHandler: adminGuard(ctx, { permission: 'audit.read' }),
    },
    async (req) => {
      const { username, ...rest } = req.query;
      const subject = username === undefined ? undefined : (tryNormalizeUsername(username) ?? username);
      const rows = await queryAudit(ctx.db, { ...rest, ...(subject !== undefined ? { username: subject } : {}) });
      // Rows arrive as AuditRow, converted once by db/queries/audit.ts; the answer adds parsed details, drops the chain link.
      const events = rows.map(({ prevHash: _prevHash, details, ...row }) => ({
        ...row,
        details: JSON.parse(details) as Record<string, string | number | boolean | null>,
      }));
      return { events, nextBefore: rows.length === req.query.limit ? rows[rows.length - 1]!.id : null };
    },
  );
}
