import { DEFAULT_POLICY, DEFAULT_SETTINGS, EnterpriseSettingsSchema, PolicySchema, type EnterpriseSettings, type Policy } from '../../src-shared/policy.js';
import type { Queryable } from '../db/port.js';
import type { UserRow } from './users.js';

export const DEFAULT_POLICY_NAME = 'default';
export const ENTERPRISE_SETTINGS_KEY = 'enterprise';

export interface PolicyRow {
  id: number;
  name: string;
  is_default: number;
  body: string;
  updated_at: number;
}

/**
 * Stored bodies are parsed on every read, so a policy saved before a new field existed gets that field's default.
 * A body that no longer parses is a bug or a hand edit; failing loudly beats verifying under a half-read policy.
 */
export function parsePolicyBody(body: string): Policy {
  return PolicySchema.parse(JSON.parse(body));
}

/** The user's policy, else the default policy row, else the built-in defaults (DESIGN §3). */
export async function policyForUser(q: Queryable, user: Pick<UserRow, 'policy_id'>): Promise<Policy> {
  const row =
    (user.policy_id !== null ? await q.get<PolicyRow>('SELECT * FROM policies WHERE id = ?', [user.policy_id]) : undefined) ??
    (await q.get<PolicyRow>('SELECT * FROM policies WHERE is_default = 1'));
  return row ? parsePolicyBody(row.body) : DEFAULT_POLICY;
}

export async function loadSettings(q: Queryable): Promise<EnterpriseSettings> {
  const row = await q.get<{ value: string }>('SELECT value FROM settings WHERE key = ?', [ENTERPRISE_SETTINGS_KEY]);
  return row ? EnterpriseSettingsSchema.parse(JSON.parse(row.value)) : DEFAULT_SETTINGS;
}

export async function listPolicies(q: Queryable): Promise<PolicyRow[]> {
  return q.all<PolicyRow>('SELECT * FROM policies ORDER BY is_default DESC, name');
}

export async function findPolicyByName(q: Queryable, name: string): Promise<PolicyRow | undefined> {
  return q.get<PolicyRow>('SELECT * FROM policies WHERE name = ?', [name]);
}
