import { z } from 'zod';
import type { App } from '../http/app-type.js';
import type { ServerContext } from '../context.js';
import type { Queryable } from '../db/port.js';
import { auditCountsByDay } from '../db/queries/audit.js';
import { adminGuard } from '../http/admin-guard.js';
import { ADMIN_ERRORS, ADMIN_SECURITY, UsernameParam } from '../http/schemas.js';
import { queryAudit } from '../services/audit.js';
import { listPolicies, loadSettings, policyForUser } from '../services/policy.js';
import type { Permission } from '../services/roles.js';
import type { UserRecord } from '../db/queries/users.js';
import { requireUser, tryNormalizeUsername } from '../services/users.js';
import { toCsv } from './csv.js';
import {
  AuditFilterSchema,
  AuditStatsSchema,
  UserOptionsSchema,
  type AuditFilter,
  type UserOptions,
} from './schemas.js';

/** Every helpdesk permission opens the user page; an auditor-only admin does not need it. */
const USER_READERS: readonly Permission[] = [
  'users.manage',
  'tokens.manage',
  'codes.issue',
  'codes.revoke',
  'offline.reveal',
  'devices.manage',
];
const DAY_MS = 86_400_000;
/** The chart covers at most this many days; without a range, the last 14. */
const MAX_CHART_DAYS = 92;
const CSV_MAX_ROWS = 50_000;

/**
 * Read endpoints shaped for the console (the admin API's own endpoints stay the source of every change):
 * what a user may be given (for the user page), the audit CSV export and the per-day chart.
 */
export async function consoleApiRoutes(app: App, ctx: ServerContext): Promise<void> {
  app.get(
    '/api/v1/admin/console/users/:username/options',
    {
      schema: {
        tags: ['console'],
        summary: 'What the user may be given under their policy and the enterprise settings',
        security: ADMIN_SECURITY,
        params: UsernameParam,
        response: { 200: UserOptionsSchema, ...ADMIN_ERRORS },
      },
      preHandler: adminGuard(ctx, { anyPermission: USER_READERS }),
    },
    async (req) => userOptions(ctx.db, await requireUser(ctx.db, req.params.username)),
  );

  app.get(
    '/api/v1/admin/console/audit.csv',
    {
      schema: {
        tags: ['console'],
        summary: 'The filtered audit log as CSV (formula-like cells escaped)',
        security: ADMIN_SECURITY,
        querystring: AuditFilterSchema,
      },
      preHandler: adminGuard(ctx, { permission: 'audit.read' }),
    },
    async (req, reply) => {
      const rows = await queryAudit(ctx.db, { ...auditFilter(req.query), limit: CSV_MAX_ROWS });
      const header = [
        'id',
        'time_utc',
        'type',
        'outcome',
        'actor_kind',
        'actor',
        'subject',
        'device',
        'purpose',
        'method',
        'reason',
        'details',
      ];
      const body = toCsv([
        header,
        ...rows.map((r) => [
          r.id,
          new Date(r.at).toISOString(),
          r.type,
          r.outcome,
          r.actorKind,
          r.actor,
          r.subject,
          r.device,
          r.purpose,
          r.method,
          r.reason,
          r.details,
        ]),
      ]);
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', 'attachment; filename="lifeline-audit.csv"')
        .header('cache-control', 'no-store')
        .send(body);
    },
  );

  app.get(
    '/api/v1/admin/console/audit-stats',
    {
      schema: {
        tags: ['console'],
        summary: 'Codes issued, verifications and offline uses per UTC day',
        security: ADMIN_SECURITY,
        querystring: AuditFilterSchema,
        response: { 200: AuditStatsSchema, ...ADMIN_ERRORS },
      },
      preHandler: adminGuard(ctx, { permission: 'audit.read' }),
    },
    async (req) => auditStats(ctx.db, req.query, ctx.clock.now()),
  );
}

async function userOptions(q: Queryable, user: UserRecord): Promise<UserOptions> {
  const [policy, settings, policies] = await Promise.all([policyForUser(q, user), loadSettings(q), listPolicies(q)]);
  const t = policy.temporaryCodes;
  return {
    policies: policies.map((p) => p.name),
    enrollmentAllowed: policy.enrollmentAllowed,
    pinMinLength: policy.pin.minLength,
    temporaryCode: {
      eligible: t.allowed && user.status === 'active',
      enterpriseEnabled: settings.temporaryCodesEnabled,
      minLifetimeMinutes: t.minLifetimeMinutes,
      maxLifetimeMinutes: t.maxLifetimeMinutes,
      defaultLifetimeMinutes: t.defaultLifetimeMinutes,
      multiUseAllowed: t.multiUseAllowed,
      pinRequired: t.pinRequired,
    },
    emergency: {
      enabled: settings.emergencyCodesEnabled,
      maxCount: policy.emergencyCodes.maxCount,
      defaultExpiresInHours: policy.emergencyCodes.defaultExpiresInHours,
      tokenBehaviour: policy.emergencyCodes.tokenBehaviour,
    },
  };
}

/** The filter as queryAudit takes it; the same normalisation as GET /api/v1/admin/audit. */
function auditFilter(f: AuditFilter): Omit<Parameters<typeof queryAudit>[1], 'limit'> {
  return {
    ...(f.username ? { username: tryNormalizeUsername(f.username) ?? f.username } : {}),
    ...(f.actor ? { actor: f.actor } : {}),
    ...(f.device ? { device: f.device } : {}),
    ...(f.type ? { type: f.type } : {}),
    ...(f.since !== undefined ? { since: f.since } : {}),
    ...(f.until !== undefined ? { until: f.until } : {}),
  };
}

async function auditStats(q: Queryable, f: AuditFilter, now: number): Promise<z.infer<typeof AuditStatsSchema>> {
  const until = f.until ?? (Math.floor(now / DAY_MS) + 1) * DAY_MS;
  const since = Math.max(f.since ?? until - 14 * DAY_MS, until - MAX_CHART_DAYS * DAY_MS);
  const { username, actor, device } = auditFilter(f);
  const rows = await auditCountsByDay(q, { since, until, username, actor, device });
  const byDay = new Map(rows.map((r) => [r.day, r]));
  const days = [];
  for (let d = Math.floor(since / DAY_MS); d * DAY_MS < until; d++) {
    const r = byDay.get(d);
    days.push({
      day: new Date(d * DAY_MS).toISOString().slice(0, 10),
      issued: r?.issued ?? 0,
      verifications: r?.verifications ?? 0,
      offline: r?.offline ?? 0,
    });
  }
  return { days };
}
