import type { Queryable, Row } from '../port.js';

/** A RADIUS client (table `radius_clients`); the shared secret sealed under the master key. */
export interface RadiusClientRecord {
  id: number;
  name: string;
  addresses: string[];
  secretEnc: Buffer;
  requireMessageAuthenticator: boolean;
  createdAt: number;
  createdBy: string;
}

function toRadiusClientRecord(r: Row): RadiusClientRecord {
  return {
    id: Number(r.id),
    name: r.name as string,
    addresses: JSON.parse(r.addresses as string) as string[],
    secretEnc: r.secret_enc as Buffer,
    requireMessageAuthenticator: Number(r.require_message_authenticator) === 1,
    createdAt: Number(r.created_at),
    createdBy: r.created_by as string,
  };
}

/** Undefined when the name is taken. */
export async function insertRadiusClient(
  q: Queryable,
  c: {
    name: string;
    addresses: readonly string[];
    secretEnc: Buffer;
    requireMessageAuthenticator: boolean;
    createdAt: number;
    createdBy: string;
  },
): Promise<RadiusClientRecord | undefined> {
  const row = await q.get(
    `INSERT INTO radius_clients (name, addresses, secret_enc, require_message_authenticator, created_at, created_by)
     VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING RETURNING *`,
    [c.name, JSON.stringify(c.addresses), c.secretEnc, c.requireMessageAuthenticator ? 1 : 0, c.createdAt, c.createdBy],
  );
  return row ? toRadiusClientRecord(row) : undefined;
}

export async function listRadiusClients(q: Queryable): Promise<RadiusClientRecord[]> {
  return (await q.all('SELECT * FROM radius_clients ORDER BY name')).map(toRadiusClientRecord);
}

/** The removed client, or undefined when there was none of that name. */
export async function deleteRadiusClient(q: Queryable, name: string): Promise<RadiusClientRecord | undefined> {
  const row = await q.get('DELETE FROM radius_clients WHERE name = ? RETURNING *', [name]);
  return row ? toRadiusClientRecord(row) : undefined;
}
