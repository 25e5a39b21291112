import { closeSync, existsSync, fstatSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { LOG_CENSOR, LOG_REDACT_PATHS } from '../../src-shared/log-redaction.js';
import type { AgentConfig } from './agent-config.js';
import type { AgentLogger } from './ports.js';

/**
 * The agent's log: structured pino lines, censored with the server's paths (src-shared/log-redaction.ts), to a
 * size-bounded file in the app-data folder and, in development, to the console. The shells create it with the
 * configured `logLevel` and hand it to the core (AgentDeps.log).
 */

export type AgentLogLevel = AgentConfig['logLevel'];

export const LOG_FILE_NAME = 'agent.log';
/** A support case needs the recent past, not the whole history: 1 MiB per file, two older files kept. */
const DEFAULT_MAX_BYTES = 1024 * 1024;
const DEFAULT_KEEP = 2;

/**
 * A file that rolls over before it passes `maxBytes`: agent.log → agent.log.1 → agent.log.2, the oldest dropped.
 * Writes are synchronous: the lines before a crash are on disk, and log lines are few and small.
 */
export class RotatingLogFile {
  private fd: number;
  private size: number;

  constructor(
    readonly file: string,
    private readonly maxBytes = DEFAULT_MAX_BYTES,
    private readonly keep = DEFAULT_KEEP,
  ) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    this.fd = openSync(file, 'a', 0o600);
    this.size = fstatSync(this.fd).size;
  }

  write(line: string): boolean {
    // A full disk or a removed folder must never turn a log line into a failed sign-in: the line is dropped.
    try {
      const bytes = Buffer.byteLength(line);
      if (this.size > 0 && this.size + bytes > this.maxBytes) this.rotate();
      writeSync(this.fd, line);
      this.size += bytes;
    } catch {
      // dropped, see above
    }
    return true;
  }

  private rotate(): void {
    closeSync(this.fd);
    for (let i = this.keep; i >= 1; i--) {
      const older = i === 1 ? this.file : `${this.file}.${i - 1}`;
      if (existsSync(older)) renameSync(older, `${this.file}.${i}`);
    }
    this.fd = openSync(this.file, 'a', 0o600);
    this.size = 0;
  }

  close(): void {
    closeSync(this.fd);
  }
}

export interface AgentFileLogger extends AgentLogger {
  readonly file: string;
  close(): void;
}

export function createAgentLogger(options: {
  /** The folder for agent.log and its older files (the app-data folder's logs/). */
  dir: string;
  level: AgentLogLevel;
  /** Also write each line to stderr (development runs). */
  console: boolean;
  maxBytes?: number;
  keep?: number;
}): AgentFileLogger {
  const file = new RotatingLogFile(path.join(options.dir, LOG_FILE_NAME), options.maxBytes, options.keep);
  const destination = {
    write(line: string): boolean {
      file.write(line);
      if (options.console) process.stderr.write(line);
      return true;
    },
  };
  const log = pino(
    { level: options.level, base: { pid: process.pid }, redact: { paths: [...LOG_REDACT_PATHS], censor: LOG_CENSOR } },
    destination,
  );
  return {
    file: file.file,
    info: (msg, fields) => log.info(fields ?? {}, msg),
    warn: (msg, fields) => log.warn(fields ?? {}, msg),
    error: (msg, fields) => log.error(fields ?? {}, msg),
    close: () => file.close(),
  };
}
