import type { Queryable, Row } from '../port.js';

/** An API client (table `api_clients`); its key is stored as HMAC(pepper, key). */
export interface ApiClientRecord {
  id: number;
  clientId: string;
  name: string;
  keyHash: Buffer;
  createdAt: number;
  createdBy: string;
  revokedAt: number | null;
}

function toApiClientRecord(r: Row): ApiClientRecord {
  return {
    id: Number(r.id),
    clientId: r.client_id as string,
    name: r.name as string,
    keyHash: r.key_hash as Buffer,
    createdAt: Number(r.created_at),
    createdBy: r.created_by as string,
    revokedAt: r.revoked_at === null || r.revoked_at === undefined ? null : Number(r.revoked_at),
  };
}

export async function insertApiClient(
  q: Queryable,
  c: { clientId: string; name: string; keyHash: Buffer; createdAt: number; createdBy: string },
): Promise<void> {
  await q.run('INSERT INTO api_clients (client_id, name, key_hash, created_at, created_by) VALUES (?, ?, ?, ?, ?)', [
    c.clientId,
    c.name,
    c.keyHash,
    c.createdAt,
    c.createdBy,
  ]);
}

export async function listApiClients(q: Queryable): Promise<ApiClientRecord[]> {
  return (await q.all('SELECT * FROM api_clients ORDER BY id')).map(toApiClientRecord);
}

export async function findApiClient(q: Queryable, clientId: string): Promise<ApiClientRecord | undefined> {
  const row = await q.get('SELECT * FROM api_clients WHERE client_id = ?', [clientId]);
  return row ? toApiClientRecord(row) : undefined;
}

export async function apiClientExists(q: Queryable, clientId: string): Promise<boolean> {
  return (await q.get('SELECT 1 AS one FROM api_clients WHERE client_id = ?', [clientId])) !== undefined;
}

/** False when there is no such client or it was revoked already. */
export async function revokeApiClient(q: Queryable, clientId: string, now: number): Promise<boolean> {
  return (
    (await q.run('UPDATE api_clients SET revoked_at = ? WHERE client_id = ? AND revoked_at IS NULL', [now, clientId]))
      .changes > 0
  );
}
