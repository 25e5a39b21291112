import { constantTimeEqual } from '../../src-shared/crypto/compare.js';
import { hmacSha256 } from '../../src-shared/crypto/kdf.js';
import { randomToken } from '../../src-shared/crypto/random.js';
import { LifelineError } from '../../src-shared/errors.js';
import type { ServerContext } from '../context.js';
import type { Queryable } from '../db/port.js';
import { appendAudit } from './audit.js';

/**
 * API clients (a VPN gateway, a remote-access portal) call POST /api/v1/verify with a per-client key. The key is
 * `<clientId>.<256 random bits>`: shown once, stored as HMAC(pepper, key), since a high-entropy secret needs no slow
 * hash (DESIGN §4). The client id in front lets the server find the row without searching by hash.
 */
const DOMAIN = 'lifeline/api-client-key/v1';
const CLIENT_ID_RE = /^cl_[A-Za-z0-9_-]{16}$/;

export interface ApiClientRow {
  id: number;
  client_id: string;
  name: string;
  key_hash: Buffer;
  created_at: number;
  created_by: string;
  revoked_at: number | null;
}

export interface ApiClientView {
  clientId: string;
  name: string;
  createdAt: number;
  createdBy: string;
  revokedAt: number | null;
}

function keyHash(ctx: Pick<ServerContext, 'keys'>, key: string): Buffer {
  return hmacSha256(ctx.keys.pepper, DOMAIN, key);
}

export function clientView(row: ApiClientRow): ApiClientView {
  return { clientId: row.client_id, name: row.name, createdAt: Number(row.created_at), createdBy: row.created_by, revokedAt: row.revoked_at === null ? null : Number(row.revoked_at) };
}

export async function createApiClient(ctx: ServerContext, actor: string, name: string): Promise<{ clientId: string; key: string; name: string }> {
  const clientId = `cl_${randomToken(12)}`;
  const key = `${clientId}.${randomToken(32)}`;
  await ctx.db.tx(async (q) => {
    await q.run('INSERT INTO api_clients (client_id, name, key_hash, created_at, created_by) VALUES (?, ?, ?, ?, ?)', [
      clientId,
      name,
      keyHash(ctx, key),
      ctx.clock.now(),
      actor,
    ]);
    await appendAudit(q, ctx, { type: 'client.create', outcome: 'success', actorKind: 'admin', actor, details: { clientId, name } });
  });
  return { clientId, key, name };
}

export async function listApiClients(q: Queryable): Promise<ApiClientView[]> {
  return (await q.all<ApiClientRow>('SELECT * FROM api_clients ORDER BY id')).map(clientView);
}

export async function revokeApiClient(ctx: ServerContext, actor: string, clientId: string): Promise<void> {
  await ctx.db.tx(async (q) => {
    const r = await q.run('UPDATE api_clients SET revoked_at = ? WHERE client_id = ? AND revoked_at IS NULL', [ctx.clock.now(), clientId]);
    if (r.changes === 0) {
      const exists = await q.get('SELECT 1 AS one FROM api_clients WHERE client_id = ?', [clientId]);
      if (!exists) throw new LifelineError('not_found', 'No such API client.', 404);
      throw new LifelineError('conflict', 'This API client is already revoked.', 409);
    }
    await appendAudit(q, ctx, { type: 'client.revoke', outcome: 'success', actorKind: 'admin', actor, details: { clientId } });
  });
}

/** The client a `Authorization: Bearer <key>` header belongs to; anything else is a 401 that says nothing more. */
export async function authenticateApiClient(ctx: ServerContext, authorization: string | undefined): Promise<ApiClientView> {
  const refused = new LifelineError('unauthorized', 'Send a valid API client key as Authorization: Bearer <key>.', 401);
  const m = authorization === undefined ? null : /^Bearer ([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{43})$/.exec(authorization);
  if (!m || !CLIENT_ID_RE.test(m[1]!)) throw refused;
  const row = await ctx.db.get<ApiClientRow>('SELECT * FROM api_clients WHERE client_id = ?', [m[1]!]);
  const presented = keyHash(ctx, `${m[1]}.${m[2]}`);
  // Compared even for an unknown id, so timing does not say which client ids exist.
  const equal = constantTimeEqual(presented, row?.key_hash ?? Buffer.alloc(32));
  if (!row || !equal || row.revoked_at !== null) throw refused;
  return clientView(row);
}
