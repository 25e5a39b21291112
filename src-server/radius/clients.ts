import { BlockList, isIP } from 'node:net';
import { z } from 'zod';
import type { ServerContext } from '../context.js';
import { listRadiusClients } from '../db/queries/radius-clients.js';
import { decryptSecret } from '../services/secrets.js';

/**
 * RADIUS clients (NAS): who may send Access-Requests, from which source addresses, with which shared secret. The
 * secret must be read again (every packet is keyed with it), so it is encrypted under the master key, not hashed.
 */

/** One address or CIDR, IPv4 or IPv6: "192.0.2.10", "10.0.0.0/8", "2001:db8::/32". */
export const CidrSchema = z
  .string()
  .trim()
  .min(2)
  .max(64)
  .refine((s) => parseCidr(s) !== undefined, 'not an IP address or CIDR');

export interface Cidr {
  network: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

export function parseCidr(text: string): Cidr | undefined {
  const [network = '', prefixText, extra] = text.split('/');
  if (extra !== undefined) return undefined;
  const version = isIP(network);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return undefined;
  return { network, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** A client as the UDP server uses it: the secret decrypted, the addresses ready to match. */
export interface ActiveClient {
  id: number;
  name: string;
  secret: Buffer;
  requireMessageAuthenticator: boolean;
  cidrs: Cidr[];
}

/** The AAD the shared secret is sealed under (services/radius-client-admin.ts seals it). */
export const secretAad = (name: string): string => `radius-client:${name}`;

/**
 * Bumped by every change made through this process (admin API), so the UDP server sees a new or deleted client at
 * its next packet rather than after RELOAD_AFTER_MS. Process-wide on purpose: the route and the UDP server share no
 * object, only this module.
 */
let changeGeneration = 0;
export function noteRadiusClientsChanged(): void {
  changeGeneration++;
}

/** How long a loaded client list is trusted before re-reading it (changes made by another server instance). */
const RELOAD_AFTER_MS = 5_000;

/**
 * The UDP server's view of the clients, cached so a packet costs no database read, re-read every few seconds and
 * at once after a change made through this process (noteRadiusClientsChanged). A source address matching several clients goes
 * to the one with the most specific CIDR.
 */
export class RadiusClientRegistry {
  private clients: { client: ActiveClient; matchers: { prefix: number; list: BlockList; family: Cidr['family'] }[] }[] =
    [];
  private loadedAt = -Infinity;
  private loading: Promise<void> | undefined;
  private loadedGeneration = -1;

  constructor(private readonly ctx: ServerContext) {}

  async lookup(sourceAddress: string): Promise<ActiveClient | undefined> {
    if (this.loadedGeneration !== changeGeneration || this.ctx.clock.now() - this.loadedAt > RELOAD_AFTER_MS)
      await this.reload();
    const address =
      sourceAddress.startsWith('::ffff:') && isIP(sourceAddress.slice(7)) === 4
        ? sourceAddress.slice(7)
        : sourceAddress;
    const family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
    let best: { client: ActiveClient; prefix: number } | undefined;
    for (const { client, matchers } of this.clients) {
      for (const m of matchers) {
        if (m.family === family && m.list.check(address, family) && (!best || m.prefix > best.prefix))
          best = { client, prefix: m.prefix };
      }
    }
    return best?.client;
  }

  private reload(): Promise<void> {
    // Concurrent packets share one read of the table.
    this.loading ??= (async () => {
      try {
        this.loadedGeneration = changeGeneration;
        const rows = await listRadiusClients(this.ctx.db);
        this.clients = rows.map((row) => {
          const cidrs = row.addresses.map(parseCidr).filter((c): c is Cidr => c !== undefined);
          const client: ActiveClient = {
            id: row.id,
            name: row.name,
            secret: decryptSecret(this.ctx, secretAad(row.name), row.secretEnc),
            requireMessageAuthenticator: row.requireMessageAuthenticator,
            cidrs,
          };
          const matchers = cidrs.map((c) => {
            const list = new BlockList();
            list.addSubnet(c.network, c.prefix, c.family);
            return { prefix: c.prefix, list, family: c.family };
          });
          return { client, matchers };
        });
        this.loadedAt = this.ctx.clock.now();
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }
}
