import { z } from 'zod';
import type { App } from '../http/app-type.js';
import type { ServerContext } from '../context.js';
import { adminGuard, currentAdmin, type Permission } from '../http/admin-guard.js';
import { ADMIN_ERRORS, ADMIN_SECURITY, OkSchema, UsernameParam } from '../http/schemas.js';
import {
  createUser,
  deleteToken,
  enrollToken,
  searchUsers,
  setPin,
  unlockUser,
  updateUser,
  userView,
  PIN_MAX,
} from '../services/user-admin.js';
import { requireUser, USERNAME_MAX } from '../services/users.js';

const Status = z.enum(['active', 'inactive']);
const PolicyName = z.string().min(1).max(64).describe('Name of a policy (see GET /api/v1/admin/settings)');
const DisplayName = z.string().trim().min(1).max(200);
const Email = z.email().max(254);

const UserSchema = z.object({
  username: z.string(),
  displayName: z.string().nullable(),
  email: z.string().nullable(),
  status: Status,
  policy: z.string(),
  hasPin: z.boolean(),
  pinGeneration: z.number().int(),
  tokenGeneration: z.number().int(),
  token: z
    .object({ algorithm: z.string(), digits: z.number().int(), period: z.number().int(), enrolledAt: z.number().int() })
    .nullable(),
  lock: z.object({
    locked: z.boolean(),
    lockedUntil: z.number().int().nullable(),
    lockedPermanently: z.boolean(),
    failures: z.number().int(),
    lockPeriods: z.number().int(),
  }),
  temporaryCode: z
    .object({
      expiresAt: z.number().int(),
      multiUse: z.boolean(),
      purposes: z.array(z.string()),
      pinRequired: z.boolean(),
      issuedAt: z.number().int(),
      issuedBy: z.string(),
    })
    .nullable()
    .describe('Terms of the active temporary code (never the code)'),
  emergencyCodes: z
    .object({
      issuedAt: z.number().int(),
      expiresAt: z.number().int().nullable(),
      expired: z.boolean(),
      tokenBehaviour: z.string(),
      total: z.number().int(),
      unused: z.number().int(),
    })
    .nullable(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
});

/** Everyone who works on users may look them up. */
const READ_USERS: Permission[] = [
  'users.manage',
  'tokens.manage',
  'codes.issue',
  'codes.revoke',
  'offline.reveal',
  'devices.manage',
];

export async function adminUserRoutes(app: App, ctx: ServerContext): Promise<void> {
  const tags = ['users'];
  const view = async (username: string) => userView(ctx.db, await requireUser(ctx.db, username), ctx.clock.now());

  app.post(
    '/api/v1/admin/users',
    {
      schema: {
        tags,
        summary: 'Create a user',
        security: ADMIN_SECURITY,
        description: `Needs users.manage and high assurance. The username is normalised (NFC, trimmed, lower case) and may hold letters, digits, '.', '_', '@' and '-' (at most ${USERNAME_MAX}). A name that looks like an existing user's (another script's look-alike letters, full-width forms) is refused with 409 conflict.`,
        body: z.strictObject({
          username: z.string().min(1).max(256),
          displayName: DisplayName.optional(),
          email: Email.optional(),
          policy: PolicyName.optional(),
          status: Status.optional(),
        }),
        response: { 201: UserSchema, ...ADMIN_ERRORS },
      },
      preHandler: adminGuard(ctx, { permission: 'users.manage', highAssurance: true }),
    },
    async (req, reply) => {
      const user = await createUser(ctx, currentAdmin(req), req.body);
      return reply.code(201).send(await userView(ctx.db, user, ctx.clock.now()));
    },
  );

  app.get(
    '/api/v1/admin/users',
    {
      schema: {
        tags,
        summary: 'Search users by name, display name or email',
        security: ADMIN_SECURITY,
        querystring: z.strictObject({
          q: z.string().max(256).optional(),
          limit: z.coerce.number().int().min(1).max(500).default(50),
          offset: z.coerce.number().int().min(0).default(0),
        }),
        response: { 200: z.object({ users: z.array(UserSchema) }), ...ADMIN_ERRORS },
      },
      preHandler: adminGuard(ctx, { anyPermission: READ_USERS }),
    },
    async (req) => {
      const now = ctx.clock.now();
      const rows = await searchUsers(ctx.db, req.query.q, req.query.limit, req.query.offset);
      const users = [];
      for (const row of rows) users.push(await userView(ctx.db, row, now));
      return { users };
    },
  );

  app.get(
    '/api/v1/admin/users/:username',
    {
      schema: {
        tags,
        summary: 'One user, with token, PIN, lock and code status',
        security: ADMIN_SECURITY,
        params: UsernameParam,
        response: { 200: UserSchema, ...ADMIN_ERRORS },
      },
      preHandler: adminGuard(ctx, { anyPermission: READ_USERS }),
    },
    async (req) => view(req.params.username),
  );

  app.patch(
    '/api/v1/admin/users/:username',
    {
      schema: {
        tags,
        summary: 'Activate or deactivate a user, assign a policy, change name or email',
        security: ADMIN_SECURITY,
        description:
          'Needs users.manage and high assurance. Deactivating revokes the active temporary code; an inactive user gets nothing online.',
        params: UsernameParam,
        body: z.strictObject({
          status: Status.optional(),
          policy: PolicyName.optional(),
          displayName: DisplayName.nullable().optional(),
          email: Email.nullable().optional(),
        }),
        response: { 200: UserSchema, ...ADMIN_ERRORS },
      },
      preHandler: adminGuard(ctx, { permission: 'users.manage', highAssurance: true }),
    },
    async (req) => {
      const user = await updateUser(ctx, currentAdmin(req), req.params.username, req.body);
      return userView(ctx.db, user, ctx.clock.now());
    },
  );

  app.post(
    '/api/v1/admin/users/:username/unlock',
    {
      schema: {
        tags,
        summary: 'Lift a lockout (timed or permanent)',
        security: ADMIN_SECURITY,
        description:
          'Clears the failure count, the lock periods and any lock. Needs users.manage and high assurance; audited.',
        params: UsernameParam,
        response: { 200: UserSchema, ...ADMIN_ERRORS },
      },
      preHandler: adminGuard(ctx, { permission: 'users.manage', highAssurance: true }),
    },
    async (req) => {
      const user = await unlockUser(ctx, currentAdmin(req), req.params.username);
      return userView(ctx.db, user, ctx.clock.now());
    },
  );

  app.post(
    '/api/v1/admin/users/:username/token',
    {
      schema: {
        tags,
        summary: 'Enroll (or replace) the user’s TOTP token',
        security: ADMIN_SECURITY,
        description:
          'Returns the otpauth URI once; the seed is stored encrypted and never shown again. Refused (403 policy_violation) when the policy forbids enrollment. Needs tokens.manage and high assurance; the user is notified.',
        params: UsernameParam,
        body: z
          .strictObject({
            algorithm: z.enum(['SHA1', 'SHA256']).optional(),
            digits: z.union([z.literal(6), z.literal(8)]).optional(),
          })
          .nullish(),
        response: {
          200: z.object({
            otpauthUri: z.string(),
            algorithm: z.string(),
            digits: z.number().int(),
            period: z.number().int(),
          }),
          ...ADMIN_ERRORS,
        },
      },
      preHandler: adminGuard(ctx, { permission: 'tokens.manage', highAssurance: true }),
    },
    async (req) => enrollToken(ctx, currentAdmin(req), req.params.username, req.body ?? {}),
  );

  app.delete(
    '/api/v1/admin/users/:username/token',
    {
      schema: {
        tags,
        summary: 'Delete the token enrollment (stolen device)',
        security: ADMIN_SECURITY,
        description:
          'Needs tokens.manage and high assurance; the user is notified and agents drop the token’s offline data.',
        params: UsernameParam,
        response: { 200: OkSchema, ...ADMIN_ERRORS },
      },
      preHandler: adminGuard(ctx, { permission: 'tokens.manage', highAssurance: true }),
    },
    async (req) => {
      await deleteToken(ctx, currentAdmin(req), req.params.username);
      return { ok: true as const };
    },
  );

  app.put(
    '/api/v1/admin/users/:username/pin',
    {
      schema: {
        tags,
        summary: 'Set the user’s PIN',
        security: ADMIN_SECURITY,
        description:
          'At least the policy’s minimum length. Stored hashed; the user is notified. Needs tokens.manage and high assurance.',
        params: UsernameParam,
        body: z.strictObject({
          pin: z
            .string()
            .min(1)
            .max(PIN_MAX * 4),
        }),
        response: { 200: OkSchema, ...ADMIN_ERRORS },
      },
      preHandler: adminGuard(ctx, { permission: 'tokens.manage', highAssurance: true }),
    },
    async (req) => {
      await setPin(ctx, currentAdmin(req), req.params.username, req.body.pin);
      return { ok: true as const };
    },
  );
}
