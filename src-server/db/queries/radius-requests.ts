import type { Queryable } from '../port.js';

/** RADIUS duplicate detection shared by every instance (table `radius_requests`, RFC 5080 §2.2.2). */
export interface RadiusRequestKey {
  clientId: number;
  address: string;
  port: number;
  identifier: number;
  authenticator: Buffer;
}

/**
 * One guarded statement on both engines: a new key is inserted, an expired one taken over, a live one left alone
 * (RETURNING yields no row, false). Under READ COMMITTED a racing copy waits on the row and then sees it live.
 */
export async function claimRadiusRequest(
  q: Queryable,
  key: RadiusRequestKey,
  claim: Buffer,
  now: number,
  expiresAt: number,
): Promise<boolean> {
  const row = await q.get(
    `INSERT INTO radius_requests (client_id, source_address, source_port, identifier, authenticator, claim, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (client_id, source_address, source_port, identifier, authenticator) DO UPDATE
         SET claim = excluded.claim, answer = NULL, created_at = excluded.created_at, answered_at = NULL, expires_at = excluded.expires_at
         WHERE radius_requests.expires_at <= ?
       RETURNING created_at`,
    [key.clientId, key.address, key.port, key.identifier, key.authenticator, claim, now, expiresAt, now],
  );
  return row !== undefined;
}

/** Gives the key back, only when `claim` is still the one that holds it. */
export async function unclaimRadiusRequest(q: Queryable, key: RadiusRequestKey, claim: Buffer): Promise<void> {
  await q.run(
    'DELETE FROM radius_requests WHERE client_id = ? AND source_address = ? AND source_port = ? AND identifier = ? AND authenticator = ? AND claim = ?',
    [key.clientId, key.address, key.port, key.identifier, key.authenticator, claim],
  );
}

/** Publishes the answer (undefined: nothing was sent), only under this instance's claim. */
export async function storeRadiusAnswer(
  q: Queryable,
  key: RadiusRequestKey,
  claim: Buffer,
  answer: Buffer | undefined,
  now: number,
  expiresAt: number,
): Promise<void> {
  await q.run(
    `UPDATE radius_requests SET answer = ?, answered_at = ?, expires_at = ?
         WHERE client_id = ? AND source_address = ? AND source_port = ? AND identifier = ? AND authenticator = ? AND claim = ?`,
    [answer ?? null, now, expiresAt, key.clientId, key.address, key.port, key.identifier, key.authenticator, claim],
  );
}

/** Undefined when the key is not claimed; `answeredAt` null while the claiming instance is verifying. */
export async function readRadiusAnswer(
  q: Queryable,
  key: RadiusRequestKey,
): Promise<{ answer: Buffer | null; answeredAt: number | null } | undefined> {
  const row = await q.get<{ answer: Buffer | null; answered_at: number | null }>(
    `SELECT answer, answered_at FROM radius_requests
         WHERE client_id = ? AND source_address = ? AND source_port = ? AND identifier = ? AND authenticator = ?`,
    [key.clientId, key.address, key.port, key.identifier, key.authenticator],
  );
  if (!row) return undefined;
  return {
    answer: row.answer ? Buffer.from(row.answer) : null,
    answeredAt: row.answered_at === null ? null : Number(row.answered_at),
  };
}

/** Housekeeping: keys past their window. */
export async function pruneRadiusRequests(q: Queryable, now: number): Promise<void> {
  await q.run('DELETE FROM radius_requests WHERE expires_at < ?', [now]);
}
