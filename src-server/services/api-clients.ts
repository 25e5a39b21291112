import { constantTimeEqual } from '../../src-shared/crypto/compare.js';
import { hmacSha256 } from '../../src-shared/crypto/kdf.js';
import { randomToken } from '../../src-shared/crypto/random.js';
import { LifelineError } from '../../src-shared/errors.js';
import type { ServerContext } from '../context.js';
import type { Queryable } from '../db/port.js';
import * as apiClients from '../db/queries/api-clients.js';
import type { ApiClientRecord } from '../db/queries/api-clients.js';
import { appendAudit } from './audit.js';

/**
 * API clients (a VPN gateway, a remote-access portal) call POST /api/v1/verify with a per-client key. The key is
 * `<clientId>.<256 random bits>`: shown once, stored as HMAC(pepper, key), since a high-entropy secret needs no slow
 * hash (docs/design.md §4). The client id in front lets the server find the row without searching by hash.
 */
const DOMAIN = 'lifeline/api-client-key/v1';
const CLIENT_ID_RE = /^cl_[A-Za-z0-9_-]{16}$/;

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

export function clientView(row: ApiClientRecord): ApiClientView {
  return {
    clientId: row.clientId,
    name: row.name,
    createdAt: row.createdAt,
    createdBy: row.createdBy,
    revokedAt: row.revokedAt,
  };
}

export async function createApiClient(
  ctx: ServerContext,
  actor: string,
  name: string,
): Promise<{ clientId: string; key: string; name: string }> {
  const clientId = `cl_${randomToken(12)}`;
  const key = `${clientId}.${randomToken(32)}`;
  await ctx.db.tx(async (q) => {
    await apiClients.insertApiClient(q, {
      clientId,
      name,
      keyHash: keyHash(ctx, key),
      createdAt: ctx.clock.now(),
      createdBy: actor,
    });
    await appendAudit(q, ctx, {
      type: 'client.create',
      outcome: 'success',
      actorKind: 'admin',
      actor,
      details: { clientId, name },
    });
  });
  return { clientId, key, name };
}

export async function listApiClients(q: Queryable): Promise<ApiClientView[]> {
  return (await apiClients.listApiClients(q)).map(clientView);
}

export async function revokeApiClient(ctx: ServerContext, actor: string, clientId: string): Promise<void> {
  await ctx.db.tx(async (q) => {
    if (!(await apiClients.revokeApiClient(q, clientId, ctx.clock.now()))) {
      if (!(await apiClients.apiClientExists(q, clientId)))
        throw new LifelineError('not_found', 'No such API client.', 404);
      throw new LifelineError('conflict', 'This API client is already revoked.', 409);
    }
    await appendAudit(q, ctx, {
      type: 'client.revoke',
      outcome: 'success',
      actorKind: 'admin',
      actor,
      details: { clientId },
    });
  });
}

/** The client a `Authorization: Bearer <key>` header belongs to; anything else is a 401 that says nothing more. */
export async function authenticateApiClient(
  ctx: ServerContext,
  authorization: string | undefined,
): Promise<ApiClientView> {
  const refused = new LifelineError('unauthorized', 'Send a valid API client key as Authorization: Bearer <key>.', 401);
  const m =
    authorization === undefined ? null : /^Bearer ([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{43})$/.exec(authorization);
  if (!m || !CLIENT_ID_RE.test(m[1]!)) throw refused;
  const row = await apiClients.findApiClient(ctx.db, m[1]!);
  const presented = keyHash(ctx, `${m[1]}.${m[2]}`);
  // Compared even for an unknown id, so timing does not say which client ids exist.
  const equal = constantTimeEqual(presented, row?.keyHash ?? Buffer.alloc(32));
  if (!row || !equal || row.revokedAt !== null) throw refused;
  return clientView(row);
}
