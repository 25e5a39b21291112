/**
 * The log fields both the server (src-server/logger.ts) and the agent (src-main/core/logger.ts) censor, as pino
 * redaction paths. Plain data, so src-shared stays free of pino. Secrets never reach a log line by construction (no
 * code logs a body, a code, a PIN or a key); these paths are the second line of defence.
 *
 * `code` is not censored by name: on an error line it is the error's code (`SQLITE_ERROR`, `FST_ERR_…`, a TLS
 * failure) and must stay readable. One-time codes live in what a client sends or is sent, so bodies and payloads
 * are censored whole, wherever they appear.
 */

/** Fields that only ever hold a secret. */
const SECRET_FIELDS = [
  'password',
  'otp',
  'pin',
  'codes',
  'key',
  'secret',
  'token',
  'seed',
  'verifier',
  'verifiers',
  'request',
];

/** What a client sent or was sent: a one-time code lives here (`{username, code, pin}`), so none of it is logged. */
const BODY_FIELDS = ['body', 'payload'];

export const LOG_REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  ...[...SECRET_FIELDS, ...BODY_FIELDS].flatMap((field) => [field, `*.${field}`]),
];

export const LOG_CENSOR = '[redacted]';
