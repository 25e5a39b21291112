import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureBootstrapAdmin } from '../../../src-server/services/admins.js';
import { bootstrap, type AdminHarness } from '../../helpers/admin.js';
import { describePg } from '../../helpers/engines.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { TestDevice } from '../devices/test-device.js';

/**
 * Read-then-write spots that READ COMMITTED lets race when two instances act at once: each is raced on two
 * instances of one database, and each failed before its fix (a lost settings change, a crash on the second
 * bootstrap admin, a false 'device.sync-chain-gap').
 */
describePg('read-then-write races across two instances on one PostgreSQL', () => {
  let a: TestServer;
  let b: TestServer;
  let h: AdminHarness;

  beforeAll(async () => {
    a = await startTestServer({ engine: 'postgres' });
    b = await startTestServer({ join: a.deployment!, clock: a.clock });
    h = await bootstrap(a);
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('two instances starting on an empty database create the bootstrap admin once, and the other is told so', async () => {
    const first = await startTestServer({ engine: 'postgres' });
    const second = await startTestServer({ join: first.deployment!, clock: first.clock });
    try {
      const input = { password: 'Bootstrap-race-password-1', totpSecret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' };
      const results = await Promise.all([
        ensureBootstrapAdmin(first.ctx, input),
        ensureBootstrapAdmin(second.ctx, input),
      ]);
      expect(results.map((r) => r.created).sort()).toEqual([false, true]);
      expect(await first.ctx.db.all('SELECT id FROM admins')).toHaveLength(1);
    } finally {
      await second.close();
      await first.close();
    }
  });

  it('concurrent settings changes on both instances all stick (no lost update)', async () => {
    const patch = (server: TestServer, settings: Record<string, boolean>) =>
      fetch(`${server.url}/api/v1/admin/settings`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${h.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ settings }),
      }).then((r) => r.status);
    for (let round = 0; round < 12; round++) {
      const v = round % 2 === 0;
      const statuses = await Promise.all([
        patch(a, { temporaryCodesEnabled: v }),
        patch(b, { offlineEnabled: v }),
        patch(a, { emergencyCodesEnabled: v }),
        patch(b, { temporaryCodesEnabled: v }),
      ]);
      expect(statuses).toEqual([200, 200, 200, 200]);
      const now = (await h.http('GET', '/api/v1/admin/settings')).body.settings;
      expect(now, `round ${round}`).toEqual({ temporaryCodesEnabled: v, offlineEnabled: v, emergencyCodesEnabled: v });
    }
  });

  it('a batch racing its own retry on the other instance logs no false sync-chain gap', async () => {
    const secret = (await h.http('GET', '/api/v1/admin/devices/enrollment-secret')).body.enrollmentSecret as string;
    const dev = new TestDevice(a, 'ws-race');
    expect((await dev.enroll(secret)).status).toBe(200);
    for (let round = 0; round < 6; round++) {
      const events = Array.from({ length: 41 }, () =>
        dev.event({ at: a.clock.now(), type: 'offline-failure', username: 'nobody', reason: 'invalid_code' }),
      );
      // The first 40 to one instance; the agent, tired of waiting, sends all 41 again to the other.
      dev.server = a;
      const first = dev.sync(events.slice(0, 40));
      dev.server = b;
      const retry = dev.sync(events);
      const [r1, r2] = await Promise.all([first, retry]);
      expect([r1.status, r2.status]).toEqual([200, 200]);
    }
    const gaps = await a.ctx.db.all("SELECT id FROM audit WHERE type = 'device.sync-chain-gap' AND device = ?", [
      dev.deviceId,
    ]);
    expect(gaps).toEqual([]);
    const head = await a.ctx.db.get<{ chain_seq: number }>('SELECT chain_seq FROM devices WHERE id = ?', [
      dev.deviceId,
    ]);
    expect(head?.chain_seq).toBe(6 * 41);
  });
});
