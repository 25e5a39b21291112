import { randomBytes } from '../../src-shared/crypto/random.js';
import { LifelineError } from '../../src-shared/errors.js';
import type { ServerContext } from '../context.js';
import {
  deleteRadiusClient,
  insertRadiusClient,
  listRadiusClients,
  type RadiusClientRecord,
} from '../db/queries/radius-clients.js';
import { noteRadiusClientsChanged, secretAad } from '../radius/clients.js';
import { appendAudit } from './audit.js';
import { encryptSecret } from './secrets.js';

/**
 * RADIUS clients (NAS: VPN gateways, firewalls) as an admin with clients.manage registers and removes them. The shared
 * secret is generated here and returned once: 32 hex characters (128 bits) because every gateway's configuration
 * accepts them. Each change commits with its audit rows, and the UDP server of this process sees it at its next packet.
 */
const SECRET_BYTES = 16;

export async function createRadiusClient(
  ctx: ServerContext,
  admin: string,
  input: { name: string; addresses: string[]; requireMessageAuthenticator: boolean },
): Promise<{ client: RadiusClientRecord; secret: string }> {
  const secret = randomBytes(SECRET_BYTES).toString('hex');
  const { name, addresses, requireMessageAuthenticator } = input;
  const client = await ctx.db.tx(async (q) => {
    const inserted = await insertRadiusClient(q, {
      name,
      addresses,
      secretEnc: encryptSecret(ctx, secretAad(name), Buffer.from(secret)),
      requireMessageAuthenticator,
      createdAt: ctx.clock.now(),
      createdBy: admin,
    });
    if (!inserted) throw new LifelineError('conflict', 'A RADIUS client with this name already exists.', 409);
    await appendAudit(q, ctx, {
      type: 'radius.client.created',
      outcome: 'success',
      actorKind: 'admin',
      actor: admin,
      details: { radiusClient: name, addresses: addresses.join(','), requireMessageAuthenticator },
    });
    if (!requireMessageAuthenticator) {
      await appendAudit(q, ctx, {
        type: 'radius.client.message_authenticator_relaxed',
        outcome: 'info',
        actorKind: 'admin',
        actor: admin,
        reason: 'client registered without the Message-Authenticator requirement (BlastRADIUS protection off)',
        details: { radiusClient: name },
      });
    }
    return inserted;
  });
  noteRadiusClientsChanged();
  return { client, secret };
}

export { listRadiusClients };

export async function removeRadiusClient(ctx: ServerContext, admin: string, name: string): Promise<void> {
  await ctx.db.tx(async (q) => {
    const removed = await deleteRadiusClient(q, name);
    if (!removed) throw new LifelineError('not_found', 'No such RADIUS client.', 404);
    await appendAudit(q, ctx, {
      type: 'radius.client.deleted',
      outcome: 'success',
      actorKind: 'admin',
      actor: admin,
      details: { radiusClient: removed.name },
    });
  });
  noteRadiusClientsChanged();
}
