import pino, { type Logger } from 'pino';
import { LOG_CENSOR, LOG_REDACT_PATHS } from '../src-shared/log-redaction.js';

/**
 * Structured logs. Secrets never reach a log line by construction (no handler logs a body), and as a second line
 * of defence the paths of src-shared/log-redaction.ts are censored wherever they appear; the agent censors the same.
 */
export function createLogger(options: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    // No component in the base bindings: each module's child logger names its own (`[sync]`, `[radius]`, `http`), and
    // pino would otherwise write the key twice.
    { level: options.level ?? 'info', redact: { paths: [...LOG_REDACT_PATHS], censor: LOG_CENSOR } },
    options.destination,
  );
}
export type { Logger };
