import type { Purpose } from '../../../src-shared/codes.js';
import type { Queryable, Row } from '../port.js';

/** A helpdesk-issued temporary code (table `temporary_codes`); only its hash is stored. */
export interface TemporaryCodeRecord {
  id: number;
  userId: number;
  codeHash: Buffer;
  codeLength: number;
  multiUse: boolean;
  purposes: Purpose[];
  pinRequired: boolean;
  issuedAt: number;
  issuedBy: string;
  expiresAt: number;
  usedAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
  revokeReason: string | null;
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function toTemporaryCodeRecord(r: Row): TemporaryCodeRecord {
  return {
    id: Number(r.id),
    userId: Number(r.user_id),
    codeHash: r.code_hash as Buffer,
    codeLength: Number(r.code_length),
    multiUse: Number(r.multi_use) === 1,
    purposes: JSON.parse(r.purposes as string) as Purpose[],
    pinRequired: Number(r.pin_required) === 1,
    issuedAt: Number(r.issued_at),
    issuedBy: r.issued_by as string,
    expiresAt: Number(r.expires_at),
    usedAt: num(r.used_at),
    lastUsedAt: num(r.last_used_at),
    revokedAt: num(r.revoked_at),
    revokeReason: (r.revoke_reason as string | null) ?? null,
  };
}

/** The active (unrevoked, unused, unexpired) code of a user. */
export async function activeTemporaryCode(
  q: Queryable,
  userId: number,
  now: number,
): Promise<TemporaryCodeRecord | undefined> {
  const row = await q.get(
    'SELECT * FROM temporary_codes WHERE user_id = ? AND revoked_at IS NULL AND used_at IS NULL AND expires_at > ?',
    [userId, now],
  );
  return row ? toTemporaryCodeRecord(row) : undefined;
}

/** Whether the user's active multi-use code is still the one that expires at `expiresAt` (what an agent caches). */
export async function activeMultiUseCodeExpiringAt(
  q: Queryable,
  userId: number,
  expiresAt: number,
  now: number,
): Promise<boolean> {
  const row = await q.get(
    'SELECT id FROM temporary_codes WHERE user_id = ? AND multi_use = 1 AND expires_at = ? AND revoked_at IS NULL AND used_at IS NULL AND expires_at > ?',
    [userId, expiresAt, now],
  );
  return row !== undefined;
}

/** Revokes the user's unrevoked, unused codes (expired or not); returns how many. */
export async function revokeUserTemporaryCodes(
  q: Queryable,
  userId: number,
  reason: string,
  now: number,
): Promise<number> {
  const revoked = await q.all(
    'UPDATE temporary_codes SET revoked_at = ?, revoke_reason = ? WHERE user_id = ? AND revoked_at IS NULL AND used_at IS NULL RETURNING id',
    [now, reason, userId],
  );
  return revoked.length;
}

/** The partial unique index temporary_codes_one_active refuses a second active code if two issues race. */
export async function insertTemporaryCode(
  q: Queryable,
  c: {
    userId: number;
    codeHash: Buffer;
    codeLength: number;
    multiUse: boolean;
    purposes: readonly Purpose[];
    pinRequired: boolean;
    issuedAt: number;
    issuedBy: string;
    expiresAt: number;
  },
): Promise<void> {
  await q.run(
    `INSERT INTO temporary_codes (user_id, code_hash, code_length, multi_use, purposes, pin_required, issued_at, issued_by, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      c.userId,
      c.codeHash,
      c.codeLength,
      c.multiUse ? 1 : 0,
      JSON.stringify(c.purposes),
      c.pinRequired ? 1 : 0,
      c.issuedAt,
      c.issuedBy,
      c.expiresAt,
    ],
  );
}

/**
 * Consumes the code for one successful verification, one guarded statement: a single-use code exactly once (false =
 * another request won), a multi-use one while it stays active and unexpired.
 */
export async function consumeTemporaryCode(
  q: Queryable,
  code: Pick<TemporaryCodeRecord, 'id' | 'multiUse'>,
  now: number,
): Promise<boolean> {
  const r = code.multiUse
    ? await q.run(
        'UPDATE temporary_codes SET last_used_at = ? WHERE id = ? AND revoked_at IS NULL AND used_at IS NULL AND expires_at > ?',
        [now, code.id, now],
      )
    : await q.run(
        'UPDATE temporary_codes SET used_at = ?, last_used_at = ? WHERE id = ? AND revoked_at IS NULL AND used_at IS NULL AND expires_at > ?',
        [now, now, code.id, now],
      );
  return r.changes === 1;
}
