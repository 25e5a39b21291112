import {
  DeviceListQuerySchema,
  DeviceListResponseSchema,
  DeviceParamsSchema,
  DeviceSummarySchema,
  EnrollmentSecretResponseSchema,
  ResetOfflineRequestSchema,
  ResetOfflineResponseSchema,
} from '../../src-shared/protocol/admin.js';
import type { App } from '../http/app-type.js';
import type { ServerContext } from '../context.js';
import { adminGuard, currentAdmin } from '../http/admin-guard.js';
import { ADMIN_ERRORS, ADMIN_SECURITY } from '../http/schemas.js';
import {
  listDevices,
  readEnrollmentSecretAudited,
  resetDeviceOffline,
  setDeviceStatus,
  toSummary,
} from '../services/devices.js';

/** Admin API of devices: list, approve, revoke, RSA's offline reset, and the enrollment secret for installers. */
export async function adminDeviceRoutes(app: App, ctx: ServerContext): Promise<void> {
  const readers = adminGuard(ctx, { anyPermission: ['devices.manage', 'offline.reveal', 'audit.read'] });
  const managers = adminGuard(ctx, { permission: 'devices.manage', highAssurance: true });

  app.get(
    '/api/v1/admin/devices',
    {
      preHandler: readers,
      schema: {
        tags: ['devices'],
        summary: 'List enrolled devices',
        security: ADMIN_SECURITY,
        querystring: DeviceListQuerySchema,
        response: { 200: DeviceListResponseSchema, ...ADMIN_ERRORS },
      },
    },
    async (req) => ({ devices: await listDevices(ctx.db, req.query) }),
  );

  app.get(
    '/api/v1/admin/devices/enrollment-secret',
    {
      preHandler: managers,
      schema: {
        tags: ['devices'],
        summary: 'The enrollment secret to configure in agent installers',
        security: ADMIN_SECURITY,
        response: { 200: EnrollmentSecretResponseSchema, ...ADMIN_ERRORS },
      },
    },
    async (req) => ({ enrollmentSecret: await readEnrollmentSecretAudited(ctx, currentAdmin(req).username) }),
  );

  for (const [action, to] of [
    ['approve', 'approved'],
    ['revoke', 'revoked'],
  ] as const) {
    app.post(
      `/api/v1/admin/devices/:device/${action}`,
      {
        preHandler: managers,
        schema: {
          tags: ['devices'],
          summary:
            action === 'approve'
              ? 'Approve a pending device (it may then receive offline data)'
              : 'Revoke a device (its next contact gets a wipe order and nothing else)',
          security: ADMIN_SECURITY,
          params: DeviceParamsSchema,
          response: { 200: DeviceSummarySchema, ...ADMIN_ERRORS },
        },
      },
      async (req) => toSummary(await setDeviceStatus(ctx, req.params.device, to, currentAdmin(req).username), []),
    );
  }

  app.post(
    '/api/v1/admin/devices/:device/reset-offline',
    {
      preHandler: managers,
      schema: {
        tags: ['devices'],
        summary:
          "RSA's reset: retire the device's offline emergency slots (one user or all); fresh ones arrive at the next online login",
        security: ADMIN_SECURITY,
        params: DeviceParamsSchema,
        body: ResetOfflineRequestSchema.optional(),
        response: { 200: ResetOfflineResponseSchema, ...ADMIN_ERRORS },
      },
    },
    async (req) => ({
      retiredSlots: await resetDeviceOffline(ctx, currentAdmin(req).username, req.params.device, req.body?.username),
    }),
  );
}
