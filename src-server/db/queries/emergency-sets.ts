import type { TOKEN_BEHAVIOURS } from '../../../src-shared/policy.js';
import type { Queryable, Row } from '../port.js';

export type TokenBehaviour = (typeof TOKEN_BEHAVIOURS)[number];

/** A set of emergency codes (table `emergency_sets`); at most one live (unvoided) set per user. */
export interface EmergencySetRecord {
  id: number;
  userId: number;
  issuedAt: number;
  issuedBy: string;
  expiresAt: number | null;
  tokenBehaviour: TokenBehaviour;
  voidedAt: number | null;
  voidReason: string | null;
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function toEmergencySetRecord(r: Row): EmergencySetRecord {
  return {
    id: Number(r.id),
    userId: Number(r.user_id),
    issuedAt: Number(r.issued_at),
    issuedBy: r.issued_by as string,
    expiresAt: num(r.expires_at),
    tokenBehaviour: r.token_behaviour as TokenBehaviour,
    voidedAt: num(r.voided_at),
    voidReason: (r.void_reason as string | null) ?? null,
  };
}

/** The user's live set, if any (possibly expired: expiry matters to the token behaviours). */
export async function liveEmergencySet(q: Queryable, userId: number): Promise<EmergencySetRecord | undefined> {
  const row = await q.get('SELECT * FROM emergency_sets WHERE user_id = ? AND voided_at IS NULL', [userId]);
  return row ? toEmergencySetRecord(row) : undefined;
}

/** emergency_sets_one_live refuses a second live set if two issues race. Returns the new set's id. */
export async function insertEmergencySet(
  q: Queryable,
  s: { userId: number; issuedAt: number; issuedBy: string; expiresAt: number | null; tokenBehaviour: TokenBehaviour },
): Promise<number> {
  const row = await q.get<{ id: number }>(
    'INSERT INTO emergency_sets (user_id, issued_at, issued_by, expires_at, token_behaviour) VALUES (?, ?, ?, ?, ?) RETURNING id',
    [s.userId, s.issuedAt, s.issuedBy, s.expiresAt, s.tokenBehaviour],
  );
  return Number(row!.id);
}

/** Voids the user's live set; false when there was none. */
export async function voidLiveEmergencySet(
  q: Queryable,
  userId: number,
  reason: string,
  now: number,
): Promise<boolean> {
  const voided = await q.all(
    'UPDATE emergency_sets SET voided_at = ?, void_reason = ? WHERE user_id = ? AND voided_at IS NULL RETURNING id',
    [now, reason, userId],
  );
  return voided.length > 0;
}
