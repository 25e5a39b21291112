import fastifyCookie from '@fastify/cookie';
import type { App } from '../http/app-type.js';
import type { ServerContext } from '../context.js';
import { consoleRoutes } from '../console/routes.js';
import { adminAuthRoutes } from './admin-auth.js';
import { adminUserRoutes } from './admin-users.js';
import { adminSettingsRoutes } from './admin-settings.js';
import { adminRoleRoutes } from './admin-roles.js';
import { adminAdminRoutes } from './admin-admins.js';
import { adminAuditRoutes } from './admin-audit.js';
import { adminClientsRoutes } from './admin-clients.js';
import { adminCodesRoutes } from './admin-codes.js';
import { adminRadiusRoutes } from './admin-radius.js';
import { healthRoutes } from './health.js';
import { verifyRoutes } from './verify.js';
import { deviceRoutes } from './devices.js';
import { adminDeviceRoutes } from './admin-devices.js';
import { adminEmergencyAccessRoutes } from './admin-emergency-access.js';

/** Every route module, registered in one place. Each module exports `(app, ctx) => Promise<void>`. */
export async function registerRoutes(app: App, ctx: ServerContext): Promise<void> {
  // The console's session cookie (httpOnly, SameSite=Strict); read by http/admin-guard.ts.
  await app.register(fastifyCookie);
  // API answers carry codes, seeds and session tokens: no browser or proxy may keep any of them.
  app.addHook('onSend', async (req, reply, payload) => {
    if (req.url.startsWith('/api/') && !reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });
  await healthRoutes(app, ctx);
  await adminAuthRoutes(app, ctx);
  await adminUserRoutes(app, ctx);
  await adminSettingsRoutes(app, ctx);
  await adminRoleRoutes(app, ctx);
  await adminAdminRoutes(app, ctx);
  await adminAuditRoutes(app, ctx);
  await adminRadiusRoutes(app, ctx);
  await consoleRoutes(app, ctx);
  await adminCodesRoutes(app, ctx);
  await adminClientsRoutes(app, ctx);
  await verifyRoutes(app, ctx);
  await deviceRoutes(app, ctx);
  await adminDeviceRoutes(app, ctx);
  await adminEmergencyAccessRoutes(app, ctx);
}
