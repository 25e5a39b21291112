import type { Queryable, Row } from '../port.js';

/** A user's TOTP token (table `tokens`): the seed sealed under the master key (AAD token:<user id>). */
export interface TokenRecord {
  userId: number;
  seedEnc: Buffer;
  /** 'SHA1' or 'SHA256' (as enrolled). */
  algorithm: string;
  digits: number;
  period: number;
  /** The last time step used; only ever advanced upwards (advanceTokenStep). */
  lastStep: number;
  enrolledAt: number;
  enrolledBy: string | null;
}

function toTokenRecord(r: Row): TokenRecord {
  return {
    userId: Number(r.user_id),
    seedEnc: r.seed_enc as Buffer,
    algorithm: r.algorithm as string,
    digits: Number(r.digits),
    period: Number(r.period),
    lastStep: Number(r.last_step),
    enrolledAt: Number(r.enrolled_at),
    enrolledBy: (r.enrolled_by as string | null) ?? null,
  };
}

export async function findToken(q: Queryable, userId: number): Promise<TokenRecord | undefined> {
  const row = await q.get('SELECT * FROM tokens WHERE user_id = ?', [userId]);
  return row ? toTokenRecord(row) : undefined;
}

/**
 * The replay guard, the one statement that spends token steps (an online verification, or a window burned offline
 * and reported by sync): `step` and every earlier one, upwards only. False when the stored step was already at or
 * past it (a replay, or an older report that must never un-burn a later window).
 */
export async function advanceTokenStep(q: Queryable, userId: number, step: number): Promise<boolean> {
  const r = await q.run('UPDATE tokens SET last_step = ? WHERE user_id = ? AND last_step < ?', [step, userId, step]);
  return r.changes === 1;
}

/** Enrolls or replaces the user's token; the step history starts over. */
export async function upsertToken(
  q: Queryable,
  t: {
    userId: number;
    seedEnc: Buffer;
    algorithm: string;
    digits: number;
    period: number;
    enrolledAt: number;
    enrolledBy: string;
  },
): Promise<void> {
  await q.run(
    `INSERT INTO tokens (user_id, seed_enc, algorithm, digits, period, last_step, enrolled_at, enrolled_by) VALUES (?, ?, ?, ?, ?, -1, ?, ?)
     ON CONFLICT (user_id) DO UPDATE SET seed_enc = excluded.seed_enc, algorithm = excluded.algorithm, digits = excluded.digits,
       period = excluded.period, last_step = -1, enrolled_at = excluded.enrolled_at, enrolled_by = excluded.enrolled_by`,
    [t.userId, t.seedEnc, t.algorithm, t.digits, t.period, t.enrolledAt, t.enrolledBy],
  );
}

/** False when the user had no token. */
export async function deleteToken(q: Queryable, userId: number): Promise<boolean> {
  return (await q.run('DELETE FROM tokens WHERE user_id = ?', [userId])).changes > 0;
}
