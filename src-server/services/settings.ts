import { LifelineError } from '../../src-shared/errors.js';
import {
  DEFAULT_SETTINGS,
  EnterpriseSettingsSchema,
  PolicySchema,
  type EnterpriseSettings,
  type Policy,
} from '../../src-shared/policy.js';
import { meetsVerifierFloor, VERIFIER_SCRYPT_FLOOR } from '../../src-shared/verifier-floor.js';
import type { ServerContext } from '../context.js';
import type { Queryable } from '../db/port.js';
import { appendAudit } from './audit.js';
import {
  deletePolicy,
  findPolicyByName,
  insertPolicy,
  listPolicies,
  updatePolicyBody,
} from '../db/queries/policies.js';
import { lockSetting, writeSetting } from '../db/queries/settings.js';
import { countUsersWithPolicy } from '../db/queries/users.js';
import { DEFAULT_POLICY_NAME, ENTERPRISE_SETTINGS_KEY, loadSettings, parsePolicyBody } from './policy.js';

export const POLICY_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

type JsonObject = { [k: string]: unknown };
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Objects merge key by key; anything else (arrays included) replaces. Own properties only, so no prototype games. */
export function deepMerge(base: unknown, patch: unknown): unknown {
  if (!isObject(base) || !isObject(patch)) return patch;
  const keys = new Set([...Object.keys(base), ...Object.keys(patch)]);
  return Object.fromEntries(
    [...keys].map((k) => [k, Object.hasOwn(patch, k) ? deepMerge(base[k], patch[k]) : base[k]]),
  );
}

export interface SettingsView {
  settings: EnterpriseSettings;
  policies: { name: string; isDefault: boolean; users: number; policy: Policy }[];
}

export async function settingsView(q: Queryable): Promise<SettingsView> {
  const policies = [];
  for (const row of await listPolicies(q)) {
    policies.push({
      name: row.name,
      isDefault: row.isDefault,
      users: await countUsersWithPolicy(q, row.id),
      policy: parsePolicyBody(row.body),
    });
  }
  return { settings: await loadSettings(q), policies };
}

function invalid(what: string, issues: { path: PropertyKey[]; message: string }[]): LifelineError {
  return new LifelineError('validation_failed', `The ${what} is not valid.`, 400, {
    details: issues.map((i) => ({ path: '/' + i.path.map(String).join('/'), message: i.message })),
  });
}

/**
 * Agents refuse offline data hashed below the floor they ship with (src-shared/verifier-floor.ts), so a policy
 * asking for less would only switch offline mode off on every device; it is refused here, with the reason.
 */
function refuseBelowVerifierFloor(ctx: ServerContext, name: string, policy: Policy): void {
  const floor = ctx.verifierScryptFloor ?? VERIFIER_SCRYPT_FLOOR;
  if (meetsVerifierFloor(policy.offline.verifierScrypt, floor)) return;
  const message = `offline verifiers need at least scrypt N=${floor.N}, r=${floor.r}, p=${floor.p}`;
  throw new LifelineError('weak_verifier_parameters', `Policy ${name}: ${message}.`, 400, {
    details: [{ path: '/offline/verifierScrypt', message }],
  });
}

/**
 * Serialises settings changes: every change first locks the enterprise row (creating it with the defaults that
 * loadSettings would return anyway), so under READ COMMITTED a concurrent change waits and then reads what the
 * first committed, instead of merging onto a stale copy and overwriting it (a lost update).
 */
async function lockSettings(q: Queryable): Promise<void> {
  await lockSetting(q, ENTERPRISE_SETTINGS_KEY, JSON.stringify(DEFAULT_SETTINGS));
}

/**
 * Applies a settings change: enterprise switches, and policies created, changed (a partial policy merged onto the
 * stored one, then validated whole) or deleted (`null`). All of it, with one audit row per change, in one transaction.
 */
export async function patchSettings(
  ctx: ServerContext,
  actor: string,
  patch: { settings?: Partial<EnterpriseSettings>; policies?: Record<string, JsonObject | null> },
): Promise<SettingsView> {
  const now = ctx.clock.now();
  return ctx.db.tx(async (q) => {
    await lockSettings(q);
    if (patch.settings && Object.keys(patch.settings).length) {
      const current = await loadSettings(q);
      const parsed = EnterpriseSettingsSchema.safeParse({ ...current, ...patch.settings });
      if (!parsed.success) throw invalid('settings change', parsed.error.issues);
      await writeSetting(q, ENTERPRISE_SETTINGS_KEY, JSON.stringify(parsed.data));
      const changed = Object.fromEntries(
        Object.entries(parsed.data).filter(([k, v]) => current[k as keyof EnterpriseSettings] !== v),
      );
      await appendAudit(q, ctx, {
        type: 'settings.changed',
        outcome: 'success',
        actorKind: 'admin',
        actor,
        details: changed,
      });
    }
    for (const [name, body] of Object.entries(patch.policies ?? {})) {
      if (!POLICY_NAME_RE.test(name))
        throw new LifelineError(
          'validation_failed',
          `A policy name is lower-case letters, digits, '.', '_' or '-' (got ${JSON.stringify(name.slice(0, 64))}).`,
          400,
        );
      const existing = await findPolicyByName(q, name);
      if (body === null) {
        if (!existing) throw new LifelineError('not_found', `No policy named ${name}.`, 404);
        if (existing.isDefault || name === DEFAULT_POLICY_NAME)
          throw new LifelineError('conflict', 'The default policy cannot be deleted.', 409);
        const users = await countUsersWithPolicy(q, existing.id);
        if (users > 0)
          throw new LifelineError(
            'conflict',
            `Policy ${name} is assigned to ${users} users; assign them another policy first.`,
            409,
          );
        await deletePolicy(q, existing.id);
        await appendAudit(q, ctx, {
          type: 'policy.deleted',
          outcome: 'success',
          actorKind: 'admin',
          actor,
          details: { policy: name },
        });
        continue;
      }
      const merged = deepMerge(existing ? JSON.parse(existing.body) : {}, body);
      const parsed = PolicySchema.safeParse(merged);
      if (!parsed.success) throw invalid(`policy ${name}`, parsed.error.issues);
      refuseBelowVerifierFloor(ctx, name, parsed.data);
      const json = JSON.stringify(parsed.data);
      if (existing) await updatePolicyBody(q, existing.id, json, now);
      else await insertPolicy(q, name, json, now);
      await appendAudit(q, ctx, {
        type: existing ? 'policy.updated' : 'policy.created',
        outcome: 'success',
        actorKind: 'admin',
        actor,
        details: { policy: name, fields: Object.keys(body).join(',') },
      });
    }
    return settingsView(q);
  });
}
