import { z } from 'zod';
import { PURPOSES } from '../../src-shared/codes.js';
import { ApiErrorSchema, LifelineError } from '../../src-shared/errors.js';
import { TOKEN_BEHAVIOURS } from '../../src-shared/policy.js';
import type { App } from '../http/app-type.js';
import type { ServerContext } from '../context.js';
import type { Queryable } from '../db/port.js';
import { adminGuard, currentAdmin } from '../http/admin-guard.js';
import { ADMIN_ERRORS, ADMIN_SECURITY, OkSchema, UsernameParam } from '../http/schemas.js';
import { emergencySetSummary, issueEmergencySet, voidEmergencySet } from '../services/emergency-codes.js';
import {
  activeTemporaryCode,
  issueTemporaryCode,
  revokeTemporaryCode,
  temporaryCodeSummary,
} from '../services/temporary-codes.js';
import type { RevocationCause } from '../services/audit.js';
import type { UserRecord } from '../db/queries/users.js';
import { requireUser } from '../services/users.js';

const THIRTY_DAYS_MINUTES = 30 * 24 * 60;

const TemporaryCodeBody = z.strictObject({
  expiresInMinutes: z
    .number()
    .int()
    .min(1)
    .max(THIRTY_DAYS_MINUTES)
    .optional()
    .describe("Lifetime; within the user's policy bounds (default: the policy's default, 24 h)"),
  multiUse: z.boolean().optional().describe('Usable until it expires (default: once)'),
  purposes: z
    .array(z.enum(PURPOSES))
    .min(1)
    .max(PURPOSES.length)
    .optional()
    .describe(
      "What the code may be used for (default: every purpose the policy allows; 'sign' only where the policy lists it)",
    ),
});

const IssuedTemporaryCode = z.object({
  code: z.string().describe('The code, in groups of four. Shown this once: it is stored only as a hash.'),
  expiresAt: z.number().int().describe('Epoch ms'),
  multiUse: z.boolean(),
  purposes: z.array(z.enum(PURPOSES)),
  pinRequired: z.boolean().describe('Whether the user types the PIN with it'),
  replaced: z.boolean().describe('Whether an active code was revoked by this one'),
});

const TemporaryCodeStatus = z.object({
  active: z.boolean(),
  expiresAt: z.number().int().optional(),
  multiUse: z.boolean().optional(),
  purposes: z.array(z.enum(PURPOSES)).optional(),
  pinRequired: z.boolean().optional(),
  issuedAt: z.number().int().optional(),
  issuedBy: z.string().optional(),
});

const EmergencyBody = z.strictObject({
  count: z.number().int().min(1).max(100).describe("How many one-time codes (at most the policy's maxCount)"),
  expiresInHours: z
    .number()
    .int()
    .min(1)
    .max(24 * 365)
    .nullable()
    .optional()
    .describe("Lifetime of the set; null: no expiry; omitted: the policy's default"),
  tokenBehaviour: z
    .enum(TOKEN_BEHAVIOURS)
    .optional()
    .describe("If the token becomes available (default: the policy's)"),
});

const IssuedEmergencySet = z.object({
  codes: z.array(z.string()).describe('The codes, each usable once. Shown this once.'),
  expiresAt: z.number().int().nullable(),
  tokenBehaviour: z.enum(TOKEN_BEHAVIOURS),
  pinRequired: z.boolean(),
  replaced: z.boolean(),
});

const EmergencyStatus = z.object({
  active: z.boolean(),
  issuedAt: z.number().int().optional(),
  expiresAt: z.number().int().nullable().optional(),
  expired: z.boolean().optional(),
  tokenBehaviour: z.enum(TOKEN_BEHAVIOURS).optional(),
  total: z.number().int().optional(),
  unused: z.number().int().optional(),
});

const ISSUE_ERRORS = {
  ...ADMIN_ERRORS,
  403: ApiErrorSchema.describe(
    'forbidden, step_up_required, feature_disabled (disabled for the enterprise) or not_eligible (policy, or no PIN yet)',
  ),
  409: ApiErrorSchema.describe('The user is inactive (user_inactive)'),
  429: ApiErrorSchema.describe('Too many codes for this user this hour (rate_limited, with retryAfterSeconds)'),
};

/** Responses that carry a code must never be kept by a browser or proxy cache. */
const NO_STORE = 'no-store';

/**
 * What sets the temporary code's routes apart from the emergency set's; the flow they share (find the user, the
 * permission and step-up guards, issue / show / revoke, the answer's shape and headers) is written once, in
 * codeRoutes.
 */
interface CodeKind<Body extends z.ZodType, Issued extends z.ZodType, Status extends z.ZodType> {
  /** The resource under /api/v1/admin/users/:username/. */
  resource: string;
  issue: {
    summary: string;
    description: string;
    body: Body;
    response: Issued;
    run: (ctx: ServerContext, actor: string, username: string, input: z.output<Body>) => Promise<z.input<Issued>>;
  };
  status: {
    summary: string;
    response: Status;
    /** The live codes' terms, or undefined when there are none. */
    read: (q: Queryable, userId: number, now: number) => Promise<object | undefined>;
  };
  revoke: {
    summary: string;
    description: string;
    run: (
      q: Queryable,
      ctx: ServerContext,
      user: UserRecord,
      cause: RevocationCause & { reason: 'admin'; actorKind: 'admin' },
    ) => Promise<boolean>;
    /** The not_found message when the user has nothing live to revoke. */
    noneLive: string;
  };
}

const TEMPORARY_CODE: CodeKind<typeof TemporaryCodeBody, typeof IssuedTemporaryCode, typeof TemporaryCodeStatus> = {
  resource: 'temporary-code',
  issue: {
    summary: 'Issue a temporary code (replaces the active one)',
    description:
      'Needs codes.issue and high assurance. The code appears only in this response. At most 6 per user per hour.',
    body: TemporaryCodeBody,
    response: IssuedTemporaryCode,
    run: issueTemporaryCode,
  },
  status: {
    summary: "The active temporary code's terms (never the code)",
    response: TemporaryCodeStatus,
    read: async (q, userId, now) => {
      const row = await activeTemporaryCode(q, userId, now);
      return row && temporaryCodeSummary(row);
    },
  },
  revoke: {
    summary: 'Revoke the active temporary code',
    description: 'Needs codes.revoke and high assurance. 404 when the user has no active code.',
    run: revokeTemporaryCode,
    noneLive: 'The user has no active temporary code.',
  },
};

const EMERGENCY_SET: CodeKind<typeof EmergencyBody, typeof IssuedEmergencySet, typeof EmergencyStatus> = {
  resource: 'emergency-codes',
  issue: {
    summary: 'Issue a set of one-time emergency codes (voids the previous set)',
    description:
      "Needs codes.issue and high assurance. The codes appear only in this response. 'allow-after-codes-expire' needs a set that expires.",
    body: EmergencyBody,
    response: IssuedEmergencySet,
    run: issueEmergencySet,
  },
  status: {
    summary: "The live emergency set's terms and how many codes are left (never the codes)",
    response: EmergencyStatus,
    read: emergencySetSummary,
  },
  revoke: {
    summary: 'Void the live emergency code set',
    description: 'Needs codes.revoke and high assurance. 404 when the user has no live set.',
    run: voidEmergencySet,
    noneLive: 'The user has no live emergency code set.',
  },
};

/** Helpdesk actions on a user's temporary code and emergency code set (docs/design.md §2–§4). */
export async function adminCodesRoutes(app: App, ctx: ServerContext): Promise<void> {
  codeRoutes(app, ctx, TEMPORARY_CODE);
  codeRoutes(app, ctx, EMERGENCY_SET);
}

/** Issue (POST), show the terms of (GET) and revoke (DELETE) one kind of a user's codes. */
function codeRoutes<Body extends z.ZodType, Issued extends z.ZodType, Status extends z.ZodType>(
  app: App,
  ctx: ServerContext,
  kind: CodeKind<Body, Issued, Status>,
): void {
  const path = `/api/v1/admin/users/:username/${kind.resource}`;
  const tags = ['codes'];
  // The type provider cannot resolve a generic schema; the kind's types were checked where it was defined, and the
  // body has passed `kind.issue.body` by the time the handler sees it.
  const issueBody: z.ZodType = kind.issue.body;
  const issued: z.ZodType = kind.issue.response;
  const status: z.ZodType = kind.status.response;

  app.post(
    path,
    {
      schema: {
        tags,
        summary: kind.issue.summary,
        description: kind.issue.description,
        security: ADMIN_SECURITY,
        params: UsernameParam,
        body: issueBody,
        response: { 201: issued, ...ISSUE_ERRORS },
      },
      preHandler: adminGuard(ctx, { permission: 'codes.issue', highAssurance: true }),
    },
    async (req, reply) => {
      const codes = await kind.issue.run(
        ctx,
        currentAdmin(req).username,
        req.params.username,
        req.body as z.output<Body>,
      );
      return reply.code(201).header('cache-control', NO_STORE).send(codes);
    },
  );

  app.get(
    path,
    {
      schema: {
        tags,
        summary: kind.status.summary,
        security: ADMIN_SECURITY,
        params: UsernameParam,
        response: { 200: status, ...ADMIN_ERRORS },
      },
      preHandler: adminGuard(ctx, { anyPermission: ['codes.issue', 'codes.revoke', 'users.manage'] }),
    },
    async (req) => {
      const user = await requireUser(ctx.db, req.params.username);
      const summary = await kind.status.read(ctx.db, user.id, ctx.clock.now());
      return summary ? { active: true, ...summary } : { active: false };
    },
  );

  app.delete(
    path,
    {
      schema: {
        tags,
        summary: kind.revoke.summary,
        description: kind.revoke.description,
        security: ADMIN_SECURITY,
        params: UsernameParam,
        response: { 200: OkSchema, ...ADMIN_ERRORS },
      },
      preHandler: adminGuard(ctx, { permission: 'codes.revoke', highAssurance: true }),
    },
    async (req) => {
      const actor = currentAdmin(req).username;
      const user = await requireUser(ctx.db, req.params.username);
      const revoked = await ctx.db.tx((q) =>
        kind.revoke.run(q, ctx, user, { reason: 'admin', actorKind: 'admin', actor }),
      );
      if (!revoked) throw new LifelineError('not_found', kind.revoke.noneLive, 404);
      return { ok: true as const };
    },
  );
}
