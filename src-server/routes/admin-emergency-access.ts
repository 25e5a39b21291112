import { EmergencyAccessRequestSchema, EmergencyAccessResponseSchema } from '../../src-shared/protocol/admin.js';
import type { App } from '../http/app-type.js';
import type { ServerContext } from '../context.js';
import { adminGuard, currentAdmin } from '../http/admin-guard.js';
import { ADMIN_ERRORS, ADMIN_SECURITY } from '../http/schemas.js';
import { revealOfflineEmergencyCode } from '../services/emergency-access.js';

/** POST /api/v1/admin/emergency-access: the helpdesk reads an offline emergency code for the request an agent shows. */
export async function adminEmergencyAccessRoutes(app: App, ctx: ServerContext): Promise<void> {
  app.post(
    '/api/v1/admin/emergency-access',
    {
      preHandler: adminGuard(ctx, { permission: 'offline.reveal', highAssurance: true }),
      schema: {
        tags: ['devices'],
        summary:
          'Reveal the offline emergency code for the request an offline agent shows (each slot once, in order; audited with the reason)',
        security: ADMIN_SECURITY,
        body: EmergencyAccessRequestSchema,
        response: { 200: EmergencyAccessResponseSchema, ...ADMIN_ERRORS },
      },
    },
    async (req) =>
      revealOfflineEmergencyCode(ctx, {
        request: req.body.request,
        reason: req.body.reason,
        admin: currentAdmin(req).username,
      }),
  );
}
