import type { Queryable } from '../port.js';

/** Access-Challenge states shared by every instance (table `radius_challenges`), keyed by a hash of the State. */

export async function insertChallenge(
  q: Queryable,
  c: { id: Buffer; clientId: number; username: string; pinEnc: Buffer; createdAt: number; expiresAt: number },
): Promise<void> {
  await q.run(
    'INSERT INTO radius_challenges (id, client_id, username, pin_enc, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
    [c.id, c.clientId, c.username, c.pinEnc, c.createdAt, c.expiresAt],
  );
}

/** Takes the live state once across all instances: one guarded DELETE (undefined: unknown, expired or taken). */
export async function takeChallenge(
  q: Queryable,
  id: Buffer,
  now: number,
): Promise<{ clientId: number; username: string; pinEnc: Buffer } | undefined> {
  const row = await q.get<{ client_id: number; username: string; pin_enc: Buffer }>(
    'DELETE FROM radius_challenges WHERE id = ? AND expires_at > ? RETURNING client_id, username, pin_enc',
    [id, now],
  );
  return row
    ? { clientId: Number(row.client_id), username: row.username, pinEnc: Buffer.from(row.pin_enc) }
    : undefined;
}

/** Housekeeping: states nobody answered. */
export async function pruneChallenges(q: Queryable, now: number): Promise<void> {
  await q.run('DELETE FROM radius_challenges WHERE expires_at < ?', [now]);
}
