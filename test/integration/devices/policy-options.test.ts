import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBundle } from '../../../src-shared/crypto/bundle.js';
import { encodeEmergencyRequest } from '../../../src-shared/protocol/emergency-request.js';
import { bootstrap, createUser, type AdminHarness } from '../../helpers/admin.js';
import { oathtool } from '../../helpers/oathtool.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { TestDevice } from './test-device.js';

const PIN = '583920';

function nextStep(server: TestServer): void {
  server.clock.set((Math.floor(server.clock.now() / 30_000) + 1) * 30_000 + 10_000);
}

describe('devices: policy options (approval not needed, offline emergency code online, offline off)', () => {
  let server: TestServer;
  let h: AdminHarness;
  let totp: string;
  let dev: TestDevice;

  beforeAll(async () => {
    server = await startTestServer();
    h = await bootstrap(server);
    const patch = await h.http('PATCH', '/api/v1/admin/settings', {
      policies: { default: { offline: { devicesNeedApproval: false, emergencyCodeOnline: true } } },
    });
    expect(patch.status).toBe(200);
    totp = (await createUser(h, 'bob', { pin: PIN, withToken: true })).totpSecret!;
    dev = new TestDevice(server);
    const secret = (await h.http('GET', '/api/v1/admin/devices/enrollment-secret')).body.enrollmentSecret;
    expect((await dev.enroll(secret)).body.status).toBe('approved');
  });
  afterAll(() => server.close());

  it('a device the policy trusts gets offline data without an admin approval', async () => {
    nextStep(server);
    const res = await dev.login('bob', PIN, oathtool(totp, server.clock.now()));
    expect(res.status).toBe(200);
    expect(openBundle(res.body.bundle, dev.encryption).slots).toHaveLength(5);
  });

  it('with emergencyCodeOnline a revealed slot code works online once, without the PIN, and sync retires it', async () => {
    const reveal = await h.http('POST', '/api/v1/admin/emergency-access', {
      request: encodeEmergencyRequest({ deviceId: dev.deviceId, username: 'bob', slot: 0 }),
      reason: 'forgot PIN and phone',
    });
    expect(reveal.status).toBe(200);
    const online = await dev.login('bob', undefined, reveal.body.code);
    expect(online.status).toBe(200);
    expect(online.body.result.payload.method).toBe('offline-emergency');
    expect(online.body.bundle).toBeUndefined();
    expect((await dev.login('bob', undefined, reveal.body.code)).status).toBe(401);
    // An unrevealed slot code does not work online.
    const unrevealed = await server.ctx.db.get<{ n: number }>(
      'SELECT COUNT(*) AS n FROM offline_slots WHERE revealed_at IS NULL AND used_at IS NULL',
    );
    expect(Number(unrevealed!.n)).toBe(4);
    const sync = await dev.sync(
      [],
      [{ username: 'bob', tokenGeneration: 1, pinGeneration: 1, slots: [0, 1, 2, 3, 4] }],
    );
    expect(sync.body.resets.payload.resets).toContainEqual({
      kind: 'slots-retired',
      username: 'bob',
      slots: [reveal.body.slot],
    });
  });

  it('offline switched off for the enterprise: no bundle after a token login, and sync tells the agent to wipe', async () => {
    expect((await h.http('PATCH', '/api/v1/admin/settings', { settings: { offlineEnabled: false } })).status).toBe(200);
    nextStep(server);
    const res = await dev.login('bob', PIN, oathtool(totp, server.clock.now()));
    expect(res.status).toBe(200);
    expect(res.body.bundle).toBeUndefined();
    const sync = await dev.sync([], [{ username: 'bob', tokenGeneration: 1, pinGeneration: 1, slots: [] }]);
    const policy = sync.body.resets.payload.resets.find((r: { kind: string }) => r.kind === 'policy');
    expect(policy.offline.allowed).toBe(false);
  });

  it('a deleted token and a deactivated user come back as resets', async () => {
    expect((await h.http('DELETE', '/api/v1/admin/users/bob/token')).status).toBeLessThan(300);
    const afterDelete = await dev.sync([], [{ username: 'bob', tokenGeneration: 1, pinGeneration: 1, slots: [] }]);
    expect(afterDelete.body.resets.payload.resets).toContainEqual({
      kind: 'token-changed',
      username: 'bob',
      tokenGeneration: null,
    });
    expect((await h.http('PATCH', '/api/v1/admin/users/bob', { status: 'inactive' })).status).toBe(200);
    const afterDisable = await dev.sync(
      [],
      [
        { username: 'bob', tokenGeneration: 1, pinGeneration: 1, slots: [] },
        { username: 'nobody.here', tokenGeneration: 0, pinGeneration: 0, slots: [] },
      ],
    );
    expect(afterDisable.body.resets.payload.resets).toEqual([
      { kind: 'user-disabled', username: 'bob' },
      { kind: 'user-disabled', username: 'nobody.here' },
    ]);
  });

  it('revealing a code needs a high-assurance session', async () => {
    server.clock.advance(16 * 60_000);
    const res = await h.http('POST', '/api/v1/admin/emergency-access', {
      request: encodeEmergencyRequest({ deviceId: dev.deviceId, username: 'bob', slot: 1 }),
      reason: 'late call',
    });
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('step_up_required');
  });
});
