import { z } from 'zod';

/**
 * The agent's configuration keys, one schema for the machine policy (IT), user settings and defaults.
 * Every key is optional in a source; the merged result is checked again as a whole.
 */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127(?:\.\d{1,3}){3}$/.test(hostname);
}

const parseUrl = (s: string): URL | undefined => (URL.canParse(s) ? new URL(s) : undefined);

const ServerUrl = z
  .string()
  .refine((s) => parseUrl(s) !== undefined, {
    message: 'must be an absolute URL such as https://lifeline.example.org',
    abort: true,
  })
  .refine((s) => {
    const u = parseUrl(s)!;
    return u.protocol === 'https:' || (u.protocol === 'http:' && isLoopbackHost(u.hostname));
  }, 'must use https:// (plain http:// is accepted only for a server on this machine)')
  .refine((s) => !parseUrl(s)!.username && !parseUrl(s)!.password, 'must not carry credentials');

const Fingerprint = z
  .string()
  .regex(
    /^[0-9a-f]{64}$/,
    'must be a SHA-256 key fingerprint: 64 lower-case hex characters (shown by the server at start-up)',
  );

export const AgentConfigFields = {
  serverUrl: ServerUrl,
  /** Lets a device ask to enrol; an admin still approves it (docs/design.md §6). */
  enrollmentSecret: z.string().min(16, 'must be at least 16 characters').max(256),
  /** Every server signing key the agent trusts: more than one during a key rotation. */
  serverKeyFingerprints: z.array(Fingerprint).min(1, 'must list at least one fingerprint').max(8),
  /** Path to a PEM file of extra CA certificates to trust for the server's TLS certificate (private CA). */
  serverCaFile: z.string().min(1),
  kiosk: z.boolean(),
  alwaysOnTop: z.boolean(),
  /** How long the agent waits before deciding the server is unreachable. */
  reachabilityBudgetMs: z.number().int().min(250, 'must be at least 250 ms').max(30_000, 'must be at most 30000 ms'),
  logLevel: z.enum(['error', 'warn', 'info', 'debug']),
} as const;

export type ConfigKey = keyof typeof AgentConfigFields;
export const CONFIG_KEYS = Object.keys(AgentConfigFields) as ConfigKey[];

/** A policy file or user settings file: any subset of the keys, nothing else. */
export const PartialConfigSchema = z.strictObject(AgentConfigFields).partial();
export type PartialConfig = z.infer<typeof PartialConfigSchema>;

export const DEFAULTS = {
  kiosk: false,
  alwaysOnTop: false,
  reachabilityBudgetMs: 2000,
  logLevel: 'info',
} satisfies PartialConfig;

/**
 * The sources merged (config/load.ts): any key a source set, the defaulted ones always. Not yet the agent's
 * configuration: it becomes one (agent-config.ts) once the shell has checked the server URL and enrollment secret
 * are set and added its own fields.
 */
export type MergedConfig = PartialConfig &
  Required<Pick<PartialConfig, keyof typeof DEFAULTS | 'serverKeyFingerprints'>>;
