import type { Queryable } from '../port.js';

/** The codes of a set (table `emergency_codes`): hashes only, each used once. */
export interface EmergencyCodeCandidate {
  id: number;
  codeHash: Buffer;
}

export async function insertEmergencyCode(q: Queryable, setId: number, codeHash: Buffer): Promise<void> {
  await q.run('INSERT INTO emergency_codes (set_id, code_hash) VALUES (?, ?)', [setId, codeHash]);
}

/** The unused codes of a set, in id order: what a typed code is compared with. */
export async function unusedEmergencyCodes(q: Queryable, setId: number): Promise<EmergencyCodeCandidate[]> {
  const rows = await q.all<{ id: number; code_hash: Buffer }>(
    'SELECT id, code_hash FROM emergency_codes WHERE set_id = ? AND used_at IS NULL ORDER BY id',
    [setId],
  );
  return rows.map((r) => ({ id: Number(r.id), codeHash: r.code_hash }));
}

/** Burns one code: one guarded statement, false = already used, or its set voided or expired meanwhile. */
export async function consumeEmergencyCode(q: Queryable, codeId: number, now: number): Promise<boolean> {
  const r = await q.run(
    `UPDATE emergency_codes SET used_at = ? WHERE id = ? AND used_at IS NULL
       AND set_id IN (SELECT id FROM emergency_sets WHERE voided_at IS NULL AND (expires_at IS NULL OR expires_at > ?))`,
    [now, codeId, now],
  );
  return r.changes === 1;
}

export async function countUnusedEmergencyCodes(q: Queryable, setId: number): Promise<number> {
  const unused = await q.get<{ n: number }>(
    'SELECT COUNT(*) AS n FROM emergency_codes WHERE set_id = ? AND used_at IS NULL',
    [setId],
  );
  return Number(unused?.n ?? 0);
}

export async function emergencyCodeCounts(q: Queryable, setId: number): Promise<{ total: number; unused: number }> {
  const c = await q.get<{ total: number; unused: number }>(
    'SELECT COUNT(*) AS total, SUM(CASE WHEN used_at IS NULL THEN 1 ELSE 0 END) AS unused FROM emergency_codes WHERE set_id = ?',
    [setId],
  );
  return { total: Number(c?.total ?? 0), unused: Number(c?.unused ?? 0) };
}
