import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_EVENTS_PER_BATCH, type SyncEvent, type SyncUserState } from '../../../src-shared/protocol/sync.js';
import { bootstrap, createUser, enableTemporaryCodes, type AdminHarness } from '../../helpers/admin.js';
import { oathtool } from '../../helpers/oathtool.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { TestDevice } from './test-device.js';

/**
 * Who may change what through devices/sync (docs/protocol.md, "Sync: who may report what"): a device acts only for
 * the users whose offline data it was given (its device_users rows), only while it is approved, and its answer says
 * nothing about any other user. The attacks are the ones of issue 11: a pending device enrolled with the
 * installer's secret burning a victim's token windows, and an approved one acting for users it never held.
 */
const PIN = '615204';
const STEP = 30_000;

function nextStep(server: TestServer): number {
  server.clock.set((Math.floor(server.clock.now() / STEP) + 1) * STEP + 10_000);
  return Math.floor(server.clock.now() / STEP);
}

const state = (username: string): SyncUserState => ({ username, tokenGeneration: 1, pinGeneration: 1, slots: [0, 1] });

describe('device sync: only for the users a device was given, only while it is approved', () => {
  let server: TestServer;
  let h: AdminHarness;
  let secret: string;
  let clientKey: string;
  let victimTotp: string;
  let doraTotp: string;
  let approved: TestDevice;

  const lastStep = async (username: string) =>
    Number(
      (await server.ctx.db.get<{ last_step: number }>(
        'SELECT t.last_step FROM tokens t JOIN users u ON u.id = t.user_id WHERE u.username = ?',
        [username],
      ))!.last_step,
    );
  const auditTypes = async (deviceId: string) =>
    (
      await server.ctx.db.all<{ type: string }>('SELECT type FROM audit WHERE device = ? OR actor = ? ORDER BY id', [
        deviceId,
        deviceId,
      ])
    ).map((r) => r.type);
  const auditAbout = async (subject: string) =>
    (
      await server.ctx.db.all<{ type: string }>("SELECT type FROM audit WHERE subject = ? AND type LIKE 'device.%'", [
        subject,
      ])
    ).length;
  const verifyOnline = async (username: string, code: string) => {
    const res = await fetch(`${server.url}/api/v1/verify`, {
      method: 'POST',
      headers: { authorization: `Bearer ${clientKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ username, code, pin: PIN, purpose: 'logon' }),
    });
    return res.status;
  };
  /** Every kind of user-bound event an outbox can hold, for `username`, with a burn `ahead` steps after now. */
  const eventsFor = (dev: TestDevice, username: string, ahead: number): SyncEvent[] => {
    const at = server.clock.now();
    const step = Math.floor(at / STEP) + ahead;
    return [
      dev.event({ at, type: 'offline-success', username, method: 'token', purpose: 'logon', step, tokenGeneration: 1 }),
      dev.event({ at, type: 'offline-success', username, method: 'offline-emergency', purpose: 'logon', slot: 0 }),
      dev.event({ at, type: 'offline-success', username, method: 'temporary', purpose: 'unlock' }),
      dev.event({ at, type: 'offline-failure', username, reason: 'invalid_code' }),
      dev.event({ at, type: 'offline-lockout', username, until: at + 60_000, failures: 3 }),
      dev.event({ at, type: 'offline-wipe', username, reason: 'max-failures' }),
    ];
  };

  beforeAll(async () => {
    server = await startTestServer();
    h = await bootstrap(server);
    await enableTemporaryCodes(h);
    secret = (await h.http('GET', '/api/v1/admin/devices/enrollment-secret')).body.enrollmentSecret;
    clientKey = (await h.http('POST', '/api/v1/admin/clients', { name: 'vpn' })).body.key;
    victimTotp = (await createUser(h, 'victim', { pin: PIN, withToken: true })).totpSecret!;
    doraTotp = (await createUser(h, 'dora', { pin: PIN, withToken: true })).totpSecret!;
    await createUser(h, 'sleeper', { pin: PIN, withToken: true });
    expect((await h.http('PATCH', '/api/v1/admin/users/sleeper', { status: 'inactive' })).status).toBe(200);
    // The approved device holds dora's offline data and nobody else's.
    approved = new TestDevice(server, 'ws-approved');
    expect((await approved.enroll(secret)).status).toBe(200);
    expect((await h.http('POST', `/api/v1/admin/devices/${approved.deviceId}/approve`)).status).toBe(200);
    nextStep(server);
    const login = await approved.login('dora', PIN, oathtool(doraTotp, server.clock.now()));
    expect(login.body.bundle).toBeDefined();
  });
  afterAll(() => server?.close());

  it('a pending device enrolled with the installer secret burns nothing, writes no audit row and learns nothing, whatever it sends', async () => {
    const pending = new TestDevice(server, 'ws-pending');
    expect((await pending.enroll(secret)).body.status).toBe('pending');
    const step = nextStep(server);
    const before = await lastStep('victim');
    const events: SyncEvent[] = [];
    while (events.length < MAX_EVENTS_PER_BATCH - 8) events.push(...eventsFor(pending, 'victim', 1));
    events.push(
      pending.event({ at: server.clock.now(), type: 'offline-wipe', username: null, reason: 'tampering' }),
      pending.event({
        at: server.clock.now(),
        type: 'clock-rollback',
        highWaterMark: server.clock.now(),
        observed: server.clock.now() - 1,
      }),
      pending.event({ at: server.clock.now(), type: 'store-tampering', reason: 'store-rollback' }),
    );
    const res = await pending.sync(events, [state('victim'), state('ghost')]);
    expect(res.status).toBe(200);
    // Acknowledged, so an agent drops them; recorded nowhere.
    expect(res.body.ack.payload.acknowledged).toEqual(events.map((e) => e.id));
    expect(res.body.ack.payload.anomalies).toEqual([]);
    expect(res.body.resets.payload.resets).toEqual([
      { kind: 'user-disabled', username: 'victim' },
      { kind: 'user-disabled', username: 'ghost' },
    ]);
    expect(await lastStep('victim')).toBe(before);
    expect(await auditTypes(pending.deviceId)).toEqual(['device.enroll']);
    expect(await auditAbout('victim')).toBe(0);
    expect(
      Number(
        (await server.ctx.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM device_events WHERE device_id = ?', [
          pending.deviceId,
        ]))!.n,
      ),
    ).toBe(0);
    // The victim's code of this very step still works online: nothing was burned, nothing counts as replayed.
    expect(await verifyOnline('victim', oathtool(victimTotp, step * STEP))).toBe(200);

    // Approved later, its first batch is no false chain gap: the server kept its place in the chain.
    expect((await h.http('POST', `/api/v1/admin/devices/${pending.deviceId}/approve`)).status).toBe(200);
    expect(
      (
        await pending.sync([
          pending.event({ at: server.clock.now(), type: 'store-tampering', reason: 'keychain-missing' }),
        ])
      ).status,
    ).toBe(200);
    expect(await auditTypes(pending.deviceId)).toEqual(['device.enroll', 'device.approve', 'device.store-tampering']);
  });

  it('an approved device burns, retires and audits nothing for users it was never given', async () => {
    const step = nextStep(server);
    const before = await lastStep('victim');
    const foreign = [
      ...eventsFor(approved, 'victim', 1),
      ...eventsFor(approved, 'ghost', 1),
      ...eventsFor(approved, 'sleeper', 1),
    ];
    const own = approved.event({
      at: server.clock.now(),
      type: 'offline-failure',
      username: 'dora',
      reason: 'invalid_code',
    });
    const res = await approved.sync([...foreign, own], []);
    expect(res.status).toBe(200);
    expect(res.body.ack.payload.acknowledged).toEqual([...foreign, own].map((e) => e.id));
    expect(await lastStep('victim')).toBe(before);
    for (const name of ['victim', 'ghost', 'sleeper']) expect(await auditAbout(name), name).toBe(0);
    expect(
      Number(
        (await server.ctx.db.get<{ n: number }>(
          "SELECT COUNT(*) AS n FROM audit WHERE type = 'device.offline-failure' AND subject = 'dora'",
        ))!.n,
      ),
    ).toBe(1);
    // One row says that the device reported events for users it holds nothing of, without repeating their names.
    const dropped = await server.ctx.db.all<{ subject: string | null; details: string }>(
      "SELECT subject, details FROM audit WHERE type = 'device.sync-dropped' AND device = ?",
      [approved.deviceId],
    );
    expect(dropped).toHaveLength(1);
    expect(dropped[0]!.subject).toBeNull();
    expect(JSON.parse(dropped[0]!.details)).toMatchObject({ dropped: foreign.length });
    expect(await verifyOnline('victim', oathtool(victimTotp, step * STEP))).toBe(200);
  });

  it('its sync answer is the same for a user it was not given, a disabled one and one that does not exist', async () => {
    nextStep(server);
    const names = ['victim', 'sleeper', 'ghost'];
    // A burn far ahead is an anomaly for a user the device holds; for the others it must not be one either.
    const events = names.flatMap((n) => eventsFor(approved, n, 500));
    const res = await approved.sync(events, names.map(state));
    expect(res.status).toBe(200);
    expect(res.body.ack.payload).toMatchObject({
      acknowledged: events.map((e) => e.id),
      duplicates: [],
      anomalies: [],
    });
    expect(res.body.resets.payload.resets).toEqual(names.map((username) => ({ kind: 'user-disabled', username })));
    const again = await approved.sync(events, names.map(state));
    expect(again.body.ack.payload.duplicates).toEqual(events.map((e) => e.id));
  });

  it('its own users keep counting: after a reset of their offline data, and for a cached temporary code', async () => {
    expect(
      (await h.http('POST', `/api/v1/admin/devices/${approved.deviceId}/reset-offline`, { username: 'dora' })).status,
    ).toBe(200);
    const step = nextStep(server);
    const at = server.clock.now();
    const burn = approved.event({
      at,
      type: 'offline-success',
      username: 'dora',
      method: 'token',
      purpose: 'logon',
      step,
      tokenGeneration: 1,
    });
    const slot = approved.event({
      at,
      type: 'offline-success',
      username: 'dora',
      method: 'offline-emergency',
      purpose: 'logon',
      slot: 0,
    });
    const res = await approved.sync([burn, slot], [state('dora')]);
    expect(res.status).toBe(200);
    expect(await lastStep('dora')).toBe(step);
    expect(res.body.ack.payload.anomalies).toEqual([slot.id]); // a retired slot used offline is flagged, not lost
    expect(
      Number(
        (await server.ctx.db.get<{ n: number }>(
          "SELECT COUNT(*) AS n FROM audit WHERE subject = 'dora' AND type IN ('device.offline-success', 'device.sync-anomaly') AND device = ?",
          [approved.deviceId],
        ))!.n,
      ),
    ).toBe(2);
    expect(res.body.resets.payload.resets.map((r: { kind: string }) => r.kind)).toContain('policy');

    // A multi-use temporary code typed at an online login is offline data too (the agent caches its verifier).
    await createUser(h, 'tess', { pin: PIN });
    const issued = await h.http('POST', '/api/v1/admin/users/tess/temporary-code', {
      expiresInMinutes: 120,
      multiUse: true,
    });
    expect((await approved.login('tess', PIN, issued.body.code)).body.result.payload.method).toBe('temporary');
    const used = approved.event({
      at: server.clock.now(),
      type: 'offline-success',
      username: 'tess',
      method: 'temporary',
      purpose: 'logon',
    });
    const tessSync = await approved.sync(
      [used],
      [
        {
          username: 'tess',
          tokenGeneration: 0,
          pinGeneration: 1,
          slots: [],
          temporaryExpiresAt: issued.body.expiresAt,
        },
      ],
    );
    expect(tessSync.status).toBe(200);
    expect(await auditAbout('tess')).toBe(1);
    expect(tessSync.body.resets.payload.resets.map((r: { kind: string }) => r.kind)).toEqual([
      'token-changed',
      'policy',
    ]);
  });

  it('a revoked device gets the wipe order and its events are recorded nowhere', async () => {
    const dev = new TestDevice(server, 'ws-revoked');
    expect((await dev.enroll(secret)).status).toBe(200);
    expect((await h.http('POST', `/api/v1/admin/devices/${dev.deviceId}/approve`)).status).toBe(200);
    expect((await h.http('POST', `/api/v1/admin/devices/${dev.deviceId}/revoke`)).status).toBe(200);
    const res = await dev.sync(eventsFor(dev, 'victim', 1), [state('victim')]);
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('device_revoked');
    expect(await auditTypes(dev.deviceId)).toEqual(['device.enroll', 'device.approve', 'device.revoke']);
    expect(
      Number(
        (await server.ctx.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM device_events WHERE device_id = ?', [
          dev.deviceId,
        ]))!.n,
      ),
    ).toBe(0);
  });
});

describe('device sync: requests are limited per device', () => {
  const LIMIT = { maxRequests: 3, windowMs: 60_000 };
  let server: TestServer;
  let h: AdminHarness;

  beforeAll(async () => {
    server = await startTestServer({ deviceSyncLimit: LIMIT });
    h = await bootstrap(server);
  });
  afterAll(() => server?.close());

  it('answers past the limit 429 rate_limited with Retry-After, leaves other devices alone, and lets the device in again after the window', async () => {
    const secret = (await h.http('GET', '/api/v1/admin/devices/enrollment-secret')).body.enrollmentSecret;
    const [busy, quiet] = [new TestDevice(server, 'ws-busy'), new TestDevice(server, 'ws-quiet')];
    for (const d of [busy, quiet]) expect((await d.enroll(secret)).status).toBe(200);
    for (let i = 0; i < LIMIT.maxRequests; i++) expect((await busy.sync([])).status).toBe(200);
    const refused = await busy.sync([]);
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ error: 'rate_limited', retryAfterSeconds: 60 });
    expect(busy.lastHeaders?.get('retry-after')).toBe('60');
    expect((await quiet.sync([])).status).toBe(200);
    server.clock.advance(LIMIT.windowMs);
    expect((await busy.sync([])).status).toBe(200);
  });
});
