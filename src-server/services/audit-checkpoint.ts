import { appendFileSync, chmodSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { signPayload, verifyPayload } from '../../src-shared/crypto/sign.js';
import type { ServerContext } from '../context.js';
import type { Queryable } from '../db/port.js';
import { auditRowsAfter, chainedAuditHead } from '../db/queries/audit.js';
import type { ServerKeys } from '../keyfile.js';
import { auditRowHash, GENESIS_HASH, type AuditLog } from './audit-log.js';

/**
 * Signed checkpoints of the audit chain, kept outside the database (a JSON-lines file beside it, and a log line),
 * so that rows deleted from the end of the table are detected: the chain alone cannot tell a cut tail from a
 * short log, but a signed (count, head) the database no longer reaches can.
 */
export const CHECKPOINT_FILE = 'audit-checkpoints.jsonl';
const DOMAIN = 'audit-checkpoint';
const VERSION = 1;

export const CheckpointSchema = z.object({
  count: z.number().int().nonnegative(),
  headId: z.number().int().nonnegative(),
  headHash: z.string(),
  at: z.number().int(),
  keyFingerprint: z.string(),
  signature: z.string(),
});
export type Checkpoint = z.infer<typeof CheckpointSchema>;

export function checkpointFile(dataDir: string): string {
  return path.join(dataDir, CHECKPOINT_FILE);
}

async function chainHead(q: Queryable): Promise<{ count: number; headId: number; headHash: string }> {
  // Sealed rows only: on PostgreSQL the sealer chains rows after they commit (audit-sealer.ts).
  const head = await chainedAuditHead(q);
  return { count: head.count, headId: head.headId, headHash: head.headHash ?? GENESIS_HASH };
}

const lastWritten = new WeakMap<ServerContext, string>();

/** Signs the current head and appends it to the checkpoint file; skips when nothing changed since the last one. */
export async function writeCheckpoint(ctx: ServerContext): Promise<Checkpoint | undefined> {
  const head = await chainHead(ctx.db);
  const fingerprint = `${head.count}:${head.headId}:${head.headHash}`;
  if (lastWritten.get(ctx) === fingerprint) return undefined;
  const payload = { ...head, at: ctx.clock.now() };
  const cp: Checkpoint = {
    ...payload,
    keyFingerprint: ctx.keys.signing.fingerprint,
    signature: signPayload(ctx.keys.signing.privateKey, DOMAIN, VERSION, payload),
  };
  const file = checkpointFile(ctx.dataDir);
  appendFileSync(file, JSON.stringify(cp) + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  lastWritten.set(ctx, fingerprint);
  ctx.log.info({ component: 'audit', checkpoint: cp }, 'audit checkpoint');
  return cp;
}

/** Writes a checkpoint every `intervalMs` (and never keeps the process alive for it). */
export function startCheckpointTimer(ctx: ServerContext, intervalMs: number): { stop: () => void } {
  const timer = setInterval(() => {
    writeCheckpoint(ctx).catch((err: unknown) =>
      ctx.log.error({ component: 'audit', err: String(err) }, 'audit checkpoint failed'),
    );
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

export interface AuditVerifyReport {
  ok: boolean;
  rows: number;
  /** Rows at the end that the PostgreSQL sealer has not chained yet (always 0 on SQLite). */
  unsealed: number;
  checkpoints: number;
  /** The first row whose content or link does not match the chain. */
  firstBadRowId?: number;
  problems: string[];
}

function readCheckpoints(file: string, keys: ServerKeys['allSigningKeys'], problems: string[]): Checkpoint[] {
  if (!existsSync(file)) return [];
  const valid: Checkpoint[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      let parsed: Checkpoint;
      try {
        parsed = CheckpointSchema.parse(JSON.parse(line));
      } catch {
        problems.push(`checkpoint line ${i + 1} is unreadable`);
        return;
      }
      const key = keys.find((k) => k.fingerprint === parsed.keyFingerprint);
      const { keyFingerprint: _k, signature, ...payload } = parsed;
      if (!key || !verifyPayload(key.publicKey, signature, DOMAIN, VERSION, payload)) {
        problems.push(`checkpoint line ${i + 1} has a bad signature`);
        return;
      }
      valid.push(parsed);
    });
  return valid;
}

/**
 * Recomputes the chain in id order and compares it with every signed checkpoint. Reports the first altered row
 * (its content no longer matches its hash), a broken link (a row before it was removed or rewritten), and a cut
 * tail (the table ends before a checkpoint's head). Rows the PostgreSQL sealer has not chained yet are fine at the
 * end of the table (they are counted as `unsealed`), and a problem anywhere below a sealed row.
 */
export async function verifyAudit(
  q: Queryable,
  audit: Pick<AuditLog, 'chaining'>,
  keys: ServerKeys['allSigningKeys'],
  dataDir: string,
): Promise<AuditVerifyReport> {
  const problems: string[] = [];
  const checkpoints = readCheckpoints(checkpointFile(dataDir), keys, problems);
  const hashById = new Map<number, string>();
  const wanted = new Set(checkpoints.map((c) => c.headId));
  let prev = GENESIS_HASH;
  let sealed = 0;
  let unsealed = 0;
  let firstUnsealed: number | undefined;
  let lastId = 0;
  let lastSealedId = 0;
  let firstBadRowId: number | undefined;
  // SQLite chains every row as it is inserted: a row without its hash there was tampered with, not left pending.
  const chainedOnInsert = audit.chaining === 'on-insert';
  const bad = (id: number, problem: string) => {
    if (firstBadRowId !== undefined) return;
    firstBadRowId = id;
    problems.push(problem);
  };
  for (;;) {
    const page = await auditRowsAfter(q, lastId, 1000);
    if (page.length === 0) break;
    for (const row of page) {
      const id = row.id;
      lastId = id;
      if (row.hash === null && row.prevHash === null && !chainedOnInsert) {
        unsealed++;
        firstUnsealed ??= id;
        continue;
      }
      if (firstUnsealed !== undefined) bad(firstUnsealed, `row ${firstUnsealed}: left unchained below chained rows`);
      sealed++;
      lastSealedId = id;
      if (row.prevHash !== prev)
        bad(id, `row ${id}: its link does not match the row before it (a row was removed or rewritten before it)`);
      else if (row.hash !== auditRowHash(prev, row)) bad(id, `row ${id}: its content was altered (hash mismatch)`);
      prev = row.hash ?? '';
      if (wanted.has(id)) hashById.set(id, row.hash ?? '');
    }
  }
  for (const cp of checkpoints) {
    if (cp.count === 0) continue;
    if (sealed < cp.count || !hashById.has(cp.headId)) {
      problems.push(
        `the log was cut: a checkpoint signed at ${new Date(cp.at).toISOString()} covers ${cp.count} rows up to row ${cp.headId}, but the chain has ${sealed} rows ending at row ${lastSealedId}`,
      );
      break;
    }
    if (hashById.get(cp.headId) !== cp.headHash) {
      problems.push(`row ${cp.headId} differs from the checkpoint signed at ${new Date(cp.at).toISOString()}`);
      break;
    }
  }
  return {
    ok: problems.length === 0,
    rows: sealed + unsealed,
    unsealed,
    checkpoints: checkpoints.length,
    ...(firstBadRowId !== undefined ? { firstBadRowId } : {}),
    problems,
  };
}
