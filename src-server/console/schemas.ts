import { z } from 'zod';
import { EpochMsQuery } from '../http/schemas.js';
import type { AuditRow } from '../services/audit.js';

/**
 * Response shapes of the console's own read endpoints (api.ts). The web app imports the types only, so this file is
 * the one place both sides agree on them.
 */
/**
 * What the user page needs beyond GET /api/v1/admin/users/{username}: what this user may be given under their policy
 * and the enterprise settings (for the Temporary Code section, enrollment, PIN, emergency sets), and the policy names.
 */
export const UserOptionsSchema = z.object({
  policies: z.array(z.string()),
  enrollmentAllowed: z.boolean(),
  pinMinLength: z.number(),
  temporaryCode: z.object({
    /** The policy allows temporary codes and the user is active; otherwise the console hides the section (Imprivata FAQ). */
    eligible: z.boolean(),
    enterpriseEnabled: z.boolean(),
    minLifetimeMinutes: z.number(),
    maxLifetimeMinutes: z.number(),
    defaultLifetimeMinutes: z.number(),
    multiUseAllowed: z.boolean(),
    pinRequired: z.boolean(),
  }),
  emergency: z.object({
    enabled: z.boolean(),
    maxCount: z.number(),
    defaultExpiresInHours: z.number().nullable(),
    tokenBehaviour: z.string(),
  }),
});
export type UserOptions = z.infer<typeof UserOptionsSchema>;

export const AuditStatsSchema = z.object({
  days: z.array(z.object({ day: z.string(), issued: z.number(), verifications: z.number(), offline: z.number() })),
});
export type AuditStats = z.infer<typeof AuditStatsSchema>;

/**
 * Filters of the CSV export and the chart: the same names and meanings as GET /api/v1/admin/audit, which the audit
 * page reads, so one query string serves all three. Dates are epoch ms, inclusive `since`, exclusive `until`.
 */
export const AuditFilterSchema = z.strictObject({
  username: z.string().max(256).optional(),
  actor: z.string().max(256).optional(),
  device: z.string().max(200).optional(),
  type: z.string().max(100).optional(),
  since: EpochMsQuery.optional(),
  until: EpochMsQuery.optional(),
});
export type AuditFilter = z.infer<typeof AuditFilterSchema>;

/**
 * One event as GET /api/v1/admin/audit returns it: the stored row (src-server/services/audit.ts) with `actor_kind`
 * renamed and `details` parsed. A type import only, erased from the web bundle.
 */
export type AuditEventView = Pick<
  AuditRow,
  'id' | 'at' | 'type' | 'actor' | 'subject' | 'device' | 'purpose' | 'method' | 'reason'
> & {
  outcome: string;
  actorKind: string;
  details: Record<string, string | number | boolean | null>;
};
