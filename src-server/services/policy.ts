import {
  DEFAULT_POLICY,
  DEFAULT_SETTINGS,
  EnterpriseSettingsSchema,
  PolicySchema,
  type EnterpriseSettings,
  type Policy,
} from '../../src-shared/policy.js';
import type { Queryable } from '../db/port.js';
import { findDefaultPolicy, findPolicyById } from '../db/queries/policies.js';
import { readSetting } from '../db/queries/settings.js';
import type { UserRecord } from '../db/queries/users.js';

/** The named policies, default first (console and settings views). */
export { listPolicies } from '../db/queries/policies.js';

export const DEFAULT_POLICY_NAME = 'default';
export const ENTERPRISE_SETTINGS_KEY = 'enterprise';

/**
 * Stored bodies are parsed on every read, so a policy saved before a new field existed gets that field's default.
 * A body that no longer parses is a bug or a hand edit; failing loudly beats verifying under a half-read policy.
 */
export function parsePolicyBody(body: string): Policy {
  return PolicySchema.parse(JSON.parse(body));
}

/** The user's policy, else the default policy row, else the built-in defaults (docs/design.md §3). */
export async function policyForUser(q: Queryable, user: Pick<UserRecord, 'policyId'>): Promise<Policy> {
  const row =
    (user.policyId !== null ? await findPolicyById(q, user.policyId) : undefined) ?? (await findDefaultPolicy(q));
  return row ? parsePolicyBody(row.body) : DEFAULT_POLICY;
}

export async function loadSettings(q: Queryable): Promise<EnterpriseSettings> {
  const value = await readSetting(q, ENTERPRISE_SETTINGS_KEY);
  return value !== undefined ? EnterpriseSettingsSchema.parse(JSON.parse(value)) : DEFAULT_SETTINGS;
}
