import type { Clock } from './clock.js';
import type { Db } from './db/port.js';
import type { ServerKeys } from './keyfile.js';
import type { Logger } from './logger.js';
import type { AuditLog } from './services/audit-log.js';
import type { VerifierCost } from '../src-shared/verifier-floor.js';

/** Everything a route or service needs, built once by the composition root (main.ts) or by a test. */
export interface ServerContext {
  db: Db;
  /** Where appendAudit puts events: chained on insert (SQLite) or sealed later (PostgreSQL); chosen with the database. */
  audit: AuditLog;
  keys: ServerKeys;
  clock: Clock;
  log: Logger;
  /** Folder for files kept beside the database (audit checkpoints, first-start credentials). */
  dataDir: string;
  /** The least offline verifier cost a policy may set; absent: VERIFIER_SCRYPT_FLOOR. Only tests lower it. */
  verifierScryptFloor?: VerifierCost;
  /** Syncs a device may make per window; absent: DEVICE_SYNC_LIMIT (services/device-sync.ts). Only tests widen it. */
  deviceSyncLimit?: { maxRequests: number; windowMs: number };
}
