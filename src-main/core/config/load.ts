import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { INSTALLER_PROPERTIES, propertyFlag, propertyValue, type InstallerProperty } from './installer-properties.js';
import {
  CONFIG_KEYS,
  DEFAULTS,
  PartialConfigSchema,
  type ConfigKey,
  type MergedConfig,
  type PartialConfig,
} from './schema.js';

/** An invalid configuration stops the agent with a message naming the file, the key and the problem. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly key: string,
    readonly problem: string,
  ) {
    super(`${source}: "${key}" ${problem}`);
    this.name = 'ConfigError';
  }
}

/** Where IT's machine-wide policy lives on each platform (written by the installers). */
export function machinePolicyPath(platform: NodeJS.Platform, env: NodeJS.ProcessEnv): string {
  switch (platform) {
    case 'win32':
      return path.win32.join(env.ProgramData ?? 'C:\\ProgramData', 'Lifeline', 'policy.json');
    case 'darwin':
      return '/Library/Application Support/Lifeline/policy.json';
    default:
      return '/etc/lifeline/policy.json';
  }
}

function firstIssue(source: string, error: z.ZodError): ConfigError {
  const issue = error.issues[0]!;
  const key = issue.path.length ? issue.path.join('.') : '(file)';
  const problem =
    issue.code === 'unrecognized_keys'
      ? `is not a configuration key (known keys: ${CONFIG_KEYS.join(', ')})`
      : issue.message;
  const unknownKey = issue.code === 'unrecognized_keys' ? (issue.keys[0] ?? key) : key;
  return new ConfigError(source, unknownKey, problem);
}

function readSource(file: string): PartialConfig {
  if (!existsSync(file)) return {};
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(file, '(file)', `is not valid JSON (${(err as Error).message})`);
  }
  const parsed = PartialConfigSchema.safeParse(json);
  if (!parsed.success) throw firstIssue(file, parsed.error);
  return parsed.data;
}

export interface LoadedConfig {
  config: MergedConfig;
  /** Keys set by IT's machine policy: the user cannot change them. */
  managedKeys: ReadonlySet<ConfigKey>;
  /** Keys the user tried to set but that the policy manages (ignored, shown in the status view). */
  overriddenUserKeys: ConfigKey[];
}

/** Machine policy over user settings over defaults. */
export function loadAgentConfig(options: { machinePolicyFile: string; userSettingsFile: string }): LoadedConfig {
  const managed = readSource(options.machinePolicyFile);
  const user = readSource(options.userSettingsFile);
  const managedKeys = new Set(Object.keys(managed) as ConfigKey[]);
  const overriddenUserKeys = (Object.keys(user) as ConfigKey[]).filter((k) => managedKeys.has(k));
  const merged = { ...DEFAULTS, ...user, ...managed };
  return {
    config: { serverKeyFingerprints: [], ...merged },
    managedKeys,
    overriddenUserKeys,
  };
}

/** Writes one user setting, refusing keys the machine policy manages. Atomic: a crash leaves the old file. */
export function setUserSetting(
  options: { machinePolicyFile: string; userSettingsFile: string },
  key: ConfigKey,
  value: unknown,
): void {
  const { managedKeys } = loadAgentConfig(options);
  if (managedKeys.has(key))
    throw new ConfigError(options.userSettingsFile, key, 'is managed by your IT department and cannot be changed here');
  const next = { ...readSource(options.userSettingsFile), [key]: value };
  const parsed = PartialConfigSchema.safeParse(next);
  if (!parsed.success) throw firstIssue(options.userSettingsFile, parsed.error);
  writeJsonAtomic(options.userSettingsFile, parsed.data, 0o600);
}

function writeJsonAtomic(file: string, value: unknown, mode: number): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n', { mode });
  renameSync(tmp, file);
}

/**
 * The installers' custom action: `Lifeline --write-machine-policy --server-url=… --server-key=…` (run elevated by
 * NSIS and MSI) turns installer properties into the machine policy file, through the same schema.
 */
export function machinePolicyFromArgs(argv: readonly string[]): PartialConfig {
  const raw: Record<string, unknown> = {};
  for (const property of Object.keys(INSTALLER_PROPERTIES) as InstallerProperty[]) {
    const flag = `${propertyFlag(property)}=`;
    const arg = argv.find((a) => a.startsWith(flag));
    if (arg === undefined) continue;
    const value = arg.slice(flag.length);
    if (value === '') continue; // an empty installer property means "not set"
    raw[INSTALLER_PROPERTIES[property]] = propertyValue(property, value);
  }
  const parsed = PartialConfigSchema.safeParse(raw);
  if (!parsed.success) throw firstIssue('installer properties', parsed.error);
  return parsed.data;
}

export function writeMachinePolicy(file: string, policy: PartialConfig): void {
  // Readable by every user (the agent runs in each user's session), writable by administrators only.
  writeJsonAtomic(file, policy, 0o644);
}
