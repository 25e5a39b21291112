import {
  bootstrap,
  createUser,
  enableTemporaryCodes,
  type AdminHarness,
  type HttpResult,
} from '../../helpers/admin.js';
import { oathtool } from '../../helpers/oathtool.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { waitUntilAuditSealed } from '../../../src-server/services/audit-sealer.js';
import { verifyAudit } from '../../../src-server/services/audit-checkpoint.js';
import { PgDb } from '../../../src-server/db/postgres.js';

/**
 * Several server instances of one deployment on one PostgreSQL database (same key file, each its own pool and data
 * folder), in this process and sharing one manual clock, with the bootstrap admin signed in on the first, temporary
 * codes enabled and one API client registered. Requests are spread over the instances round-robin.
 */
export interface Deployment {
  first: TestServer;
  instances: TestServer[];
  admin: AdminHarness;
  clientKey: string;
  /** POST /api/v1/verify on instance `i % instances.length`. */
  verifyOn(i: number, body: Record<string, unknown>): Promise<HttpResult>;
  userWithToken(username: string): Promise<{ username: string; totpSecret: string }>;
  tokenCode(totpSecret: string): string;
  nextStep(): void;
  /** Waits for the sealer, then verifies the one audit chain from instance 0. */
  auditChain(): Promise<{ ok: boolean; rows: number; problems: string[] }>;
  close(): Promise<void>;
}

export const PIN = 'Pg-pin-4711';

export async function startDeployment(instances = 2): Promise<Deployment> {
  const first = await startTestServer({ engine: 'postgres' });
  const others: TestServer[] = [];
  try {
    for (let i = 1; i < instances; i++)
      others.push(await startTestServer({ join: first.deployment!, clock: first.clock }));
    const admin = await bootstrap(first);
    await enableTemporaryCodes(admin);
    const client = await admin.http('POST', '/api/v1/admin/clients', { name: 'load-balanced-vpn' });
    if (client.status !== 201)
      throw new Error(`client registration failed: ${client.status} ${JSON.stringify(client.body)}`);
    const all = [first, ...others];
    const clientKey = client.body.key as string;
    return {
      first,
      instances: all,
      admin,
      clientKey,
      async verifyOn(i, body) {
        const server = all[i % all.length]!;
        const res = await fetch(`${server.url}/api/v1/verify`, {
          method: 'POST',
          headers: { authorization: `Bearer ${clientKey}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        return { status: res.status, body: await res.json(), headers: res.headers };
      },
      async userWithToken(username) {
        const u = await createUser(admin, username, { pin: PIN, withToken: true });
        return { username, totpSecret: u.totpSecret! };
      },
      tokenCode: (secret) => oathtool(secret, first.clock.now()),
      nextStep() {
        first.clock.set((Math.floor(first.clock.now() / 30_000) + 1) * 30_000 + 1_000);
      },
      async auditChain() {
        const db = first.ctx.db as PgDb;
        await waitUntilAuditSealed(db, first.ctx.log);
        return verifyAudit(db, first.ctx.audit, first.ctx.keys.auditKeys, first.dataDir);
      },
      async close() {
        for (const o of others) await o.close();
        await first.close();
      },
    };
  } catch (err) {
    for (const o of others) await o.close().catch(() => undefined);
    await first.close();
    throw err;
  }
}
