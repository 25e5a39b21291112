import { parseArgs } from 'node:util';
import { z } from 'zod';
import { HttpTimeoutsSchema, resolveHttpTimeouts, type HttpTimeouts } from '../http/timeouts.js';
import { AdmissionLimitsSchema, defaultAdmissionLimits, type AdmissionLimits } from '../services/admission.js';
import type { KeysAction } from './keys.js';

/**
 * The server's configuration: the command line of `npm run server -- [command] [options]` (parsed by node:util and
 * validated by zod, so a mistake ends with one clear line and exit code 2, never a stack trace) and the environment,
 * read once by main.ts into one ServerConfig that every command is given. Nothing else reads the environment.
 */
export const USAGE = `Usage: npm run server -- [command] [options]

Commands:
  (none)                      start the server
  init                        create the key file only (before several instances share one database)
  admin create <name> --role R [--role R2]
                              create an admin; prints its password and TOTP secret once
  audit verify                check the audit hash chain and the signed checkpoints
  keys list|stage|activate|retire <fingerprint>
                              rotate the server's signing key without stranding agents (docs/deployment.md)
  backup <file>               online backup of the SQLite database (the key file is NOT included)
  restore <file>              replace the SQLite database with a backup (refused while a server runs)
  migrate-data --from DIR --to URL
                              copy the embedded deployment in DIR into an empty PostgreSQL database, then check it

Options:
  --port P          HTTP port (default 8480; 0 picks a free one)
  --host H          address to listen on (default 127.0.0.1)
  --data DIR        data folder (default ./data)
  --tls-cert FILE   PEM certificate; with --tls-key the server speaks HTTPS
  --tls-key FILE    PEM private key
  --radius-port P   also answer RADIUS Access-Requests on this UDP port
  --trust-proxy A   behind a reverse proxy: its addresses/CIDRs (comma-separated) or loopback; X-Forwarded-For
                    from them is believed, so per-address limits see the real client
  --database URL    PostgreSQL URL (default: SQLite in the data folder; also LIFELINE_DATABASE_URL)
  --verify-concurrency N
                    verifications (verify API, agent logins) in progress at once on this instance
                    (default 2 x UV_THREADPOOL_SIZE = 8; also LIFELINE_VERIFY_CONCURRENCY)
  --verify-queue N  verifications that may wait for a place; beyond, 503 unavailable at once
                    (default 4 x the concurrency; also LIFELINE_VERIFY_QUEUE)
  --verify-queue-wait MS
                    longest wait for a place before 503 unavailable (default 1000, below the agents'
                    2 s reachability budget; also LIFELINE_VERIFY_QUEUE_WAIT_MS)
  --headers-timeout MS
                    longest a client may take to send a request's headers (default 10000)
  --request-timeout MS
                    longest a client may take to send a whole request, body included (default 30000)
  --idle-timeout MS longest a connection with a request in progress may send or read nothing (default 60000)
  --keep-alive-timeout MS
                    longest a keep-alive connection may sit between requests (default 72000, above the
                    60 s idle timeout of common balancers)
  --role R          role for 'admin create' (repeatable)
  --help            this text`;

const Port = z.coerce.number().int().min(0).max(65535);

const OptionsSchema = z
  .strictObject({
    port: Port.default(8480),
    host: z.string().min(1).max(255).default('127.0.0.1'),
    data: z.string().min(1).default('./data'),
    'tls-cert': z.string().min(1).optional(),
    'tls-key': z.string().min(1).optional(),
    'radius-port': Port.optional(),
    // Addresses of reverse proxies whose X-Forwarded-For is believed (per-address login limits need the client's).
    'trust-proxy': z
      .string()
      .regex(
        /^[0-9a-fA-F.:/,\s]+$|^(loopback|linklocal|uniquelocal)$/,
        'give proxy addresses or CIDRs (comma-separated), or loopback',
      )
      .optional(),
    database: z.string().min(1).optional(),
    'verify-concurrency': z.coerce.number().pipe(AdmissionLimitsSchema.shape.maxInFlight).optional(),
    'verify-queue': z.coerce.number().pipe(AdmissionLimitsSchema.shape.maxWaiting).optional(),
    'verify-queue-wait': z.coerce.number().pipe(AdmissionLimitsSchema.shape.maxWaitMs).optional(),
    'headers-timeout': z.coerce.number().pipe(HttpTimeoutsSchema.shape.headersMs).optional(),
    'request-timeout': z.coerce.number().pipe(HttpTimeoutsSchema.shape.requestMs).optional(),
    'idle-timeout': z.coerce.number().pipe(HttpTimeoutsSchema.shape.idleMs).optional(),
    'keep-alive-timeout': z.coerce.number().pipe(HttpTimeoutsSchema.shape.keepAliveMs).optional(),
    role: z.array(z.string().min(1).max(64)).optional(),
    from: z.string().min(1).optional(),
    to: z.string().min(1).optional(),
    help: z.boolean().optional(),
  })
  .refine((o) => (o['tls-cert'] === undefined) === (o['tls-key'] === undefined), {
    message: '--tls-cert and --tls-key go together',
  });

export type Command =
  | { kind: 'serve' }
  | { kind: 'help' }
  | { kind: 'init' }
  | { kind: 'admin-create'; username: string; roles: string[] }
  | { kind: 'audit-verify' }
  | { kind: 'keys'; keys: KeysAction }
  | { kind: 'backup'; file: string }
  | { kind: 'restore'; file: string }
  | { kind: 'migrate-data'; from: string; to: string };

export interface Cli {
  command: Command;
  port: number;
  host: string;
  dataDir: string;
  tls?: { certFile: string; keyFile: string };
  radiusPort?: number;
  trustProxy?: string[];
  database?: string;
  /** Verification admission limits given on the command line (the rest from the environment or the defaults). */
  admission: Partial<AdmissionLimits>;
  /** Connection timeouts: the defaults (http/timeouts.ts) with those given on the command line. */
  timeouts: HttpTimeouts;
}

export class UsageError extends Error {}

const PositiveInt = z.coerce.number().int().min(1).max(1024);

/**
 * The admission limits from the command line over the environment over the defaults (services/admission.ts).
 * `UV_THREADPOOL_SIZE` (read by libuv at start) sizes the default; the LIFELINE_VERIFY_* variables mirror the
 * --verify-* flags.
 */
export function resolveAdmissionLimits(flags: Partial<AdmissionLimits>, env: AdmissionEnv = {}): AdmissionLimits {
  const fromEnv = AdmissionEnvSchema.safeParse(env);
  if (!fromEnv.success) {
    throw new Error(fromEnv.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
  const e = fromEnv.data;
  const defaults = defaultAdmissionLimits(e.UV_THREADPOOL_SIZE);
  return AdmissionLimitsSchema.parse({
    maxInFlight: flags.maxInFlight ?? e.LIFELINE_VERIFY_CONCURRENCY ?? defaults.maxInFlight,
    maxWaiting: flags.maxWaiting ?? e.LIFELINE_VERIFY_QUEUE ?? defaults.maxWaiting,
    maxWaitMs: flags.maxWaitMs ?? e.LIFELINE_VERIFY_QUEUE_WAIT_MS ?? defaults.maxWaitMs,
  });
}

export interface AdmissionEnv {
  UV_THREADPOOL_SIZE?: string | undefined;
  LIFELINE_VERIFY_CONCURRENCY?: string | undefined;
  LIFELINE_VERIFY_QUEUE?: string | undefined;
  LIFELINE_VERIFY_QUEUE_WAIT_MS?: string | undefined;
}

const unset = (v: unknown) => (v === '' ? undefined : v);
const AdmissionEnvSchema = z.object({
  UV_THREADPOOL_SIZE: z.preprocess(unset, PositiveInt.optional()),
  LIFELINE_VERIFY_CONCURRENCY: z.preprocess(
    unset,
    z.coerce.number().pipe(AdmissionLimitsSchema.shape.maxInFlight).optional(),
  ),
  LIFELINE_VERIFY_QUEUE: z.preprocess(unset, z.coerce.number().pipe(AdmissionLimitsSchema.shape.maxWaiting).optional()),
  LIFELINE_VERIFY_QUEUE_WAIT_MS: z.preprocess(
    unset,
    z.coerce.number().pipe(AdmissionLimitsSchema.shape.maxWaitMs).optional(),
  ),
});

/** PostgreSQL pool settings (db/postgres.ts PgOptions) that the environment may set. */
const PgPoolSchema = z.object({ poolMax: z.number().int().min(1).max(1000).optional() });

/** LIFELINE_DB_POOL_MAX, when set: connections per instance (a positive integer), else the default. */
export function pgOptionsFromEnv(env: { LIFELINE_DB_POOL_MAX?: string | undefined }): z.infer<typeof PgPoolSchema> {
  const raw = env.LIFELINE_DB_POOL_MAX;
  if (raw === undefined || raw === '') return {};
  const poolMax = Number(raw);
  if (!Number.isSafeInteger(poolMax) || poolMax < 1 || poolMax > 1000)
    throw new Error(`LIFELINE_DB_POOL_MAX must be an integer from 1 to 1000 (got ${raw})`);
  return { poolMax };
}

/** Everything the server takes from its environment (docs/server-cli.md). */
export interface ServerEnv extends AdmissionEnv {
  LIFELINE_DATABASE_URL?: string | undefined;
  LIFELINE_DB_POOL_MAX?: string | undefined;
  LIFELINE_LOG_LEVEL?: string | undefined;
  LIFELINE_ADMIN_PASSWORD?: string | undefined;
  LIFELINE_ADMIN_TOTP_SECRET?: string | undefined;
  LIFELINE_SMTP_URL?: string | undefined;
  LIFELINE_SMTP_FROM?: string | undefined;
}

export const ServerConfigSchema = z.object({
  command: z.custom<Command>(),
  port: Port,
  host: z.string(),
  dataDir: z.string(),
  tls: z.object({ certFile: z.string(), keyFile: z.string() }).optional(),
  radiusPort: Port.optional(),
  trustProxy: z.array(z.string()).optional(),
  /** PostgreSQL URL: --database, else LIFELINE_DATABASE_URL; without it, SQLite in the data folder. */
  database: z.string().optional(),
  /** PostgreSQL pool settings (LIFELINE_DB_POOL_MAX). */
  pg: PgPoolSchema,
  /** pino level: LIFELINE_LOG_LEVEL, else info for the server and warn for the other commands. */
  logLevel: z.string(),
  /** Verification admission limits: the --verify-* flags over LIFELINE_VERIFY_* over the machine's defaults. */
  admission: AdmissionLimitsSchema,
  /** Connection timeouts: the defaults (http/timeouts.ts) with those given on the command line. */
  timeouts: HttpTimeoutsSchema,
  /** The first superadmin's password and TOTP secret when no admin exists yet (LIFELINE_ADMIN_*); else generated. */
  initialAdmin: z.object({ password: z.string().optional(), totpSecret: z.string().optional() }),
  /** Notification delivery (LIFELINE_SMTP_URL, LIFELINE_SMTP_FROM); without it notifications stay in the outbox. */
  smtp: z.object({ url: z.string(), from: z.string() }).optional(),
});
export type ServerConfig = z.infer<typeof ServerConfigSchema>;

/**
 * The whole configuration from the command line and the environment. A bad command line throws UsageError; a bad
 * environment variable throws an Error naming it. As before, LIFELINE_VERIFY_* and UV_THREADPOOL_SIZE are checked by
 * the server only, LIFELINE_DB_POOL_MAX only by the commands that open a PostgreSQL database's pool.
 */
export function loadServerConfig(argv: string[], env: ServerEnv): ServerConfig {
  const cli = parseCli(argv);
  const kind = cli.command.kind;
  const serving = kind === 'serve';
  // The flag wins over the environment; every command then sees one choice.
  const database = cli.database ?? (env.LIFELINE_DATABASE_URL || undefined);
  const opensPool = serving || kind === 'admin-create' || kind === 'audit-verify';
  return ServerConfigSchema.parse({
    ...cli,
    ...(database ? { database } : {}),
    pg: database && opensPool ? pgOptionsFromEnv(env) : {},
    logLevel: env.LIFELINE_LOG_LEVEL ?? (serving ? 'info' : 'warn'),
    admission: resolveAdmissionLimits(cli.admission, serving ? env : {}),
    initialAdmin: {
      ...(env.LIFELINE_ADMIN_PASSWORD ? { password: env.LIFELINE_ADMIN_PASSWORD } : {}),
      ...(env.LIFELINE_ADMIN_TOTP_SECRET ? { totpSecret: env.LIFELINE_ADMIN_TOTP_SECRET } : {}),
    },
    ...(env.LIFELINE_SMTP_URL
      ? { smtp: { url: env.LIFELINE_SMTP_URL, from: env.LIFELINE_SMTP_FROM ?? 'lifeline@localhost' } }
      : {}),
  });
}

export function parseCli(argv: string[]): Cli {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        data: { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'radius-port': { type: 'string' },
        'trust-proxy': { type: 'string' },
        database: { type: 'string' },
        'verify-concurrency': { type: 'string' },
        'verify-queue': { type: 'string' },
        'verify-queue-wait': { type: 'string' },
        'headers-timeout': { type: 'string' },
        'request-timeout': { type: 'string' },
        'idle-timeout': { type: 'string' },
        'keep-alive-timeout': { type: 'string' },
        role: { type: 'string', multiple: true },
        from: { type: 'string' },
        to: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const result = OptionsSchema.safeParse(parsed.values);
  if (!result.success) {
    throw new UsageError(
      result.error.issues.map((i) => (i.path.length ? `--${i.path.join('.')}: ` : '') + i.message).join('; '),
    );
  }
  const o = result.data;
  const p = parsed.positionals;
  const command = o.help ? ({ kind: 'help' } as const) : toCommand(p, o.role ?? [], o);
  if (command.kind !== 'admin-create' && o.role) throw new UsageError('--role only goes with "admin create"');
  if (command.kind !== 'migrate-data' && (o.from || o.to))
    throw new UsageError('--from and --to only go with "migrate-data"');
  const timeouts = resolveHttpTimeouts({
    headersMs: o['headers-timeout'],
    requestMs: o['request-timeout'],
    idleMs: o['idle-timeout'],
    keepAliveMs: o['keep-alive-timeout'],
  });
  if (!timeouts.success)
    throw new UsageError(
      '--headers-timeout cannot be longer than --request-timeout (the headers are part of the request)',
    );
  return {
    command,
    port: o.port,
    host: o.host,
    dataDir: o.data,
    ...(o['tls-cert'] && o['tls-key'] ? { tls: { certFile: o['tls-cert'], keyFile: o['tls-key'] } } : {}),
    ...(o['radius-port'] !== undefined ? { radiusPort: o['radius-port'] } : {}),
    ...(o['trust-proxy']
      ? {
          trustProxy: o['trust-proxy']
            .split(',')
            .map((a) => a.trim())
            .filter(Boolean),
        }
      : {}),
    ...(o.database ? { database: o.database } : {}),
    admission: {
      ...(o['verify-concurrency'] !== undefined ? { maxInFlight: o['verify-concurrency'] } : {}),
      ...(o['verify-queue'] !== undefined ? { maxWaiting: o['verify-queue'] } : {}),
      ...(o['verify-queue-wait'] !== undefined ? { maxWaitMs: o['verify-queue-wait'] } : {}),
    },
    timeouts: timeouts.data,
  };
}

function toCommand(p: string[], roles: string[], transfer: { from?: string; to?: string }): Command {
  const [a, b, c, ...rest] = p;
  const none = (n: number) => {
    if (p.length > n) throw new UsageError(`unexpected argument: ${p[n]}`);
  };
  switch (a) {
    case undefined:
      return { kind: 'serve' };
    case 'init':
      none(1);
      return { kind: 'init' };
    case 'admin':
      if (b !== 'create' || !c || rest.length) throw new UsageError('usage: admin create <username> --role <role>');
      if (roles.length === 0)
        throw new UsageError('admin create needs at least one --role (superadmin, helpdesk, auditor or a custom role)');
      return { kind: 'admin-create', username: c, roles };
    case 'audit':
      if (b !== 'verify') throw new UsageError('usage: audit verify');
      none(2);
      return { kind: 'audit-verify' };
    case 'keys':
      if (b === 'list' || b === 'stage' || b === 'activate') {
        none(2);
        return { kind: 'keys', keys: { action: b } };
      }
      if (b === 'retire' && c && !rest.length) return { kind: 'keys', keys: { action: 'retire', fingerprint: c } };
      throw new UsageError('usage: keys list | keys stage | keys activate | keys retire <fingerprint>');
    case 'backup':
    case 'restore':
      if (!b) throw new UsageError(`usage: ${a} <file>`);
      none(2);
      return { kind: a, file: b };
    case 'migrate-data':
      none(1);
      if (!transfer.from || !transfer.to) throw new UsageError('usage: migrate-data --from DIR --to postgres://…');
      return { kind: 'migrate-data', from: transfer.from, to: transfer.to };
    default:
      throw new UsageError(`unknown command: ${a}`);
  }
}
