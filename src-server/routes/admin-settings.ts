import { z } from 'zod';
import { EnterpriseSettingsSchema, PolicySchema } from '../../src-shared/policy.js';
import type { App } from '../http/app-type.js';
import type { ServerContext } from '../context.js';
import { adminGuard, currentAdmin } from '../http/admin-guard.js';
import { ADMIN_ERRORS, ADMIN_SECURITY } from '../http/schemas.js';
import { patchSettings, settingsView } from '../services/settings.js';

const SettingsViewSchema = z.object({
  settings: EnterpriseSettingsSchema,
  policies: z.array(
    z.object({ name: z.string(), isDefault: z.boolean(), users: z.number().int(), policy: PolicySchema }),
  ),
});

type SettingsShape = typeof EnterpriseSettingsSchema.shape;
/**
 * The switches a PATCH names, without their defaults: zod's `.partial()` would still fill every switch left out
 * with its default, so changing one switch silently reset the others.
 */
const EnterpriseSettingsChange = z.strictObject(
  Object.fromEntries(
    Object.entries(EnterpriseSettingsSchema.shape).map(([k, v]) => [k, v.removeDefault().optional()]),
  ) as {
    [K in keyof SettingsShape]: z.ZodOptional<ReturnType<SettingsShape[K]['removeDefault']>>;
  },
);

const SettingsPatch = z.strictObject({
  settings: EnterpriseSettingsChange.optional().describe(
    'Enterprise switches to change (temporary codes are off until enabled here)',
  ),
  policies: z
    .record(z.string().min(1).max(64), z.union([z.record(z.string(), z.unknown()), z.null()]))
    .optional()
    .describe(
      'Policy name → partial policy to merge onto it (created when new; validated whole), or null to delete it',
    ),
});

/** Enterprise settings and policies (docs/design.md §3). Reading needs settings.manage or audit.read; changing needs settings.manage and high assurance. */
export async function adminSettingsRoutes(app: App, ctx: ServerContext): Promise<void> {
  const tags = ['settings'];
  app.get(
    '/api/v1/admin/settings',
    {
      schema: {
        tags,
        summary: 'Enterprise settings and every policy, with defaults filled in',
        security: ADMIN_SECURITY,
        response: { 200: SettingsViewSchema, ...ADMIN_ERRORS },
      },
      preHandler: adminGuard(ctx, { anyPermission: ['settings.manage', 'audit.read'] }),
    },
    async () => settingsView(ctx.db),
  );

  app.patch(
    '/api/v1/admin/settings',
    {
      schema: {
        tags,
        summary: 'Change enterprise settings; create, change or delete policies',
        security: ADMIN_SECURITY,
        description:
          'Needs settings.manage and high assurance. Every change is audited. The default policy cannot be deleted, nor a policy still assigned to users. A policy whose offline.verifierScrypt is below the floor agents accept is refused (400 weak_verifier_parameters).',
        body: SettingsPatch,
        response: { 200: SettingsViewSchema, ...ADMIN_ERRORS },
      },
      preHandler: adminGuard(ctx, { permission: 'settings.manage', highAssurance: true }),
    },
    async (req) =>
      patchSettings(ctx, currentAdmin(req).username, {
        ...(req.body.settings ? { settings: req.body.settings } : {}),
        ...(req.body.policies ? { policies: req.body.policies } : {}),
      }),
  );
}
