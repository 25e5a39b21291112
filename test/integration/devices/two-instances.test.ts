import { afterAll, beforeAll, expect, it } from 'vitest';
import { openBundle } from '../../../src-shared/crypto/bundle.js';
import { encodeEmergencyRequest } from '../../../src-shared/protocol/emergency-request.js';
import { bootstrap, createUser, type AdminHarness } from '../../helpers/admin.js';
import { describePg } from '../../helpers/engines.js';
import { oathtool } from '../../helpers/oathtool.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { TestDevice } from './test-device.js';

describePg('devices on two server instances sharing one PostgreSQL database', () => {
  let a: TestServer;
  let b: TestServer;
  let h: AdminHarness;
  let dev: TestDevice;

  beforeAll(async () => {
    a = await startTestServer({ engine: 'postgres' });
    b = await startTestServer({ join: a.deployment!, clock: a.clock });
    h = await bootstrap(a);
    const totp = (await createUser(h, 'carol', { pin: '604418', withToken: true })).totpSecret!;
    dev = new TestDevice(a);
    await dev.enroll((await h.http('GET', '/api/v1/admin/devices/enrollment-secret')).body.enrollmentSecret);
    expect((await h.http('POST', `/api/v1/admin/devices/${dev.deviceId}/approve`)).status).toBe(200);
    a.clock.set((Math.floor(a.clock.now() / 30_000) + 1) * 30_000 + 10_000);
    const login = await dev.login('carol', '604418', oathtool(totp, a.clock.now()));
    expect(openBundle(login.body.bundle, dev.encryption).slots).toHaveLength(5);
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('the same batch uploaded to both instances at once is recorded once', async () => {
    const events = [1, 2, 3].map(() =>
      dev.event({ at: a.clock.now(), type: 'offline-failure', username: 'carol', reason: 'invalid_code' }),
    );
    const viaB = new TestDevice(b);
    Object.assign(viaB, { deviceId: dev.deviceId, signing: dev.signing, pinned: dev.pinned });
    const [ra, rb] = await Promise.all([dev.sync(events), viaB.sync(events)]);
    expect([ra.status, rb.status]).toEqual([200, 200]);
    // Every event is acknowledged by both; each is new on exactly one of them.
    expect(ra.body.ack.payload.acknowledged).toEqual(events.map((e) => e.id));
    expect(rb.body.ack.payload.acknowledged).toEqual(events.map((e) => e.id));
    expect(ra.body.ack.payload.duplicates.length + rb.body.ack.payload.duplicates.length).toBe(3);
    const rows = await a.ctx.db.get<{ n: number }>(
      "SELECT COUNT(*) AS n FROM audit WHERE type = 'device.offline-failure' AND device = ?",
      [dev.deviceId],
    );
    expect(Number(rows!.n)).toBe(3);
  });

  it('concurrent reveals on both instances never hand out one slot twice', async () => {
    const request = encodeEmergencyRequest({ deviceId: dev.deviceId, username: 'carol', slot: 0 });
    const other = {
      ...h,
      http: (m: string, p: string, body?: unknown) =>
        fetch(b.url + p, {
          method: m,
          headers: { authorization: `Bearer ${h.adminToken}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }).then(async (r) => ({ status: r.status, body: await r.json() })),
    };
    const results = await Promise.all(
      [0, 1, 2].flatMap(() => [
        h.http('POST', '/api/v1/admin/emergency-access', { request, reason: 'race test' }),
        other.http('POST', '/api/v1/admin/emergency-access', { request, reason: 'race test' }),
      ]),
    );
    const slots = results.filter((r) => r.status === 200).map((r) => r.body.slot as number);
    expect(slots).toHaveLength(5);
    expect(new Set(slots).size).toBe(5);
    expect(results.filter((r) => r.status === 409)).toHaveLength(1);
  });
});
