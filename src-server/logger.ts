import pino, { type Logger } from 'pino';

/**
 * Structured logs. Secrets never reach a log line by construction (no handler logs a body), and as a second line
 * of defence these paths are censored wherever they appear.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.otp',
  '*.pin',
  '*.code',
  '*.codes',
  '*.key',
  '*.secret',
  '*.token',
  '*.seed',
  '*.request',
];

export function createLogger(options: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    // No component in the base bindings: each module's child logger names its own (`[sync]`, `[radius]`, `http`), and
    // pino would otherwise write the key twice.
    { level: options.level ?? 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    options.destination,
  );
}
export type { Logger };
