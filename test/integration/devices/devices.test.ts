import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBundle, verifyBundle } from '../../../src-shared/crypto/bundle.js';
import { verifyServerMessage } from '../../../src-shared/crypto/device-messages.js';
import { normalizeCode } from '../../../src-shared/codes.js';
import { windowCode, type BundleContent, type BundleDelta } from '../../../src-shared/protocol/bundle.js';
import { SIGNATURE_DOMAINS } from '../../../src-shared/protocol/common.js';
import { encodeEmergencyRequest } from '../../../src-shared/protocol/emergency-request.js';
import type { HeldState } from '../../../src-shared/protocol/login.js';
import { MAX_EVENTS_PER_BATCH } from '../../../src-shared/protocol/sync.js';
import { bootstrap, createUser, type AdminHarness } from '../../helpers/admin.js';
import { oathtool } from '../../helpers/oathtool.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { TestDevice } from './test-device.js';

const PIN = '482916';
const STEP = 30_000;
const WINDOWS_7_DAYS = (7 * 86_400) / 30;

/** Moves the server clock to the middle of the next TOTP step (each token code is accepted once). */
function nextStep(server: TestServer): number {
  server.clock.set((Math.floor(server.clock.now() / STEP) + 1) * STEP + 10_000);
  return Math.floor(server.clock.now() / STEP);
}

async function count(server: TestServer, sql: string, params: (string | number)[] = []): Promise<number> {
  const row = await server.ctx.db.get<{ n: number }>(sql, params);
  return Number(row?.n ?? 0);
}

describe('devices: enrollment, approval and bundle deltas over real HTTP', () => {
  let server: TestServer;
  let h: AdminHarness;
  let secret: string;
  let totp: string;
  const device = () => new TestDevice(server);
  let dev: TestDevice;
  let first: BundleDelta;
  let firstContent: BundleContent;

  beforeAll(async () => {
    server = await startTestServer();
    h = await bootstrap(server);
    const res = await h.http('GET', '/api/v1/admin/devices/enrollment-secret');
    expect(res.status).toBe(200);
    secret = res.body.enrollmentSecret;
    totp = (await createUser(h, 'alice', { pin: PIN, withToken: true })).totpSecret!;
    dev = device();
  });
  afterAll(() => server.close());

  it('refuses a wrong enrollment secret and enrolls a device as pending', async () => {
    expect((await device().enroll('not-the-secret-at-all')).status).toBe(401);
    const res = await dev.enroll(secret);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('pending');
    expect(res.body.deviceId).toMatch(/^[0-9A-Z]{10}$/);
    expect(res.body.serverKeys[0].fingerprint).toBe(server.ctx.keys.signing.fingerprint);
    // Enrolling the same key again (a lost answer) gives the same device.
    const other = device();
    const firstTry = await other.enroll(secret);
    expect((await other.enroll(secret)).body.deviceId).toBe(firstTry.body.deviceId);
    expect(firstTry.body.deviceId).not.toBe(res.body.deviceId);
  });

  it('a pending device logs in online but gets no offline data', async () => {
    nextStep(server);
    const res = await dev.login('alice', PIN, oathtool(totp, server.clock.now()));
    expect(res.status).toBe(200);
    expect(res.body.bundle).toBeUndefined();
    expect(res.body.result.payload).toMatchObject({
      username: 'alice',
      method: 'token',
      deviceStatus: 'pending',
      deviceId: dev.deviceId,
    });
    expect(verifyServerMessage(dev.pinned, SIGNATURE_DOMAINS.loginResult, res.body.result)).toBe(true);
    expect(res.body.result.payload.requestNonce).toBe(res.headers['x-lifeline-nonce']);
  });

  it('refuses a replayed request, a skewed clock and a wrong PIN without revealing which factor failed', async () => {
    nextStep(server);
    const code = oathtool(totp, server.clock.now());
    const wrong = await dev.login('alice', '000000', code);
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_code');
    const ok = await dev.login('alice', PIN, code);
    expect(ok.status).toBe(200);
    const replay = await dev.signed(
      '/api/v1/devices/login',
      { v: 1, username: 'alice', pin: PIN, code, purpose: 'logon' },
      { headers: ok.headers },
    );
    expect(replay.status).toBe(401);
    expect(replay.body.error).toBe('bad_signature');
    const skewed = await dev.signed(
      '/api/v1/devices/login',
      { v: 1, username: 'alice', pin: PIN, code, purpose: 'logon' },
      { timestamp: server.clock.now() - 6 * 60_000 },
    );
    expect(skewed.status).toBe(401);
    const stranger = new TestDevice(server);
    stranger.deviceId = dev.deviceId; // claims the id, signs with its own key
    expect((await stranger.login('alice', PIN, code)).body.error).toBe('bad_signature');
  });

  it('after approval a token login returns a signed delta with 7 days of windows, the slots and the rules', async () => {
    const approve = await h.http('POST', `/api/v1/admin/devices/${dev.deviceId}/approve`);
    expect(approve.status).toBe(200);
    expect(approve.body.status).toBe('approved');
    const step = nextStep(server);
    const res = await dev.login('alice', PIN, oathtool(totp, server.clock.now()));
    expect(res.status).toBe(200);
    const checked = verifyBundle(res.body.bundle, {
      pinned: dev.pinned,
      deviceId: dev.deviceId,
      username: 'alice',
      now: server.clock.now(),
    });
    expect(checked.ok).toBe(true);
    first = res.body.bundle;
    firstContent = openBundle(first, dev.encryption);
    expect(first.header).toMatchObject({
      windowsFrom: step + 1,
      windowsTo: step + WINDOWS_7_DAYS,
      replaceWindows: true,
      sequence: 1,
    });
    const windows = firstContent.tokenWindows!;
    expect(windows.codes.length).toBe(WINDOWS_7_DAYS * 6);
    for (const s of [step + 1, step + 1000, step + WINDOWS_7_DAYS])
      expect(windowCode(windows, s)).toBe(oathtool(totp, s * STEP));
    expect(firstContent.slots.map((s) => s.index)).toEqual([0, 1, 2, 3, 4]);
    expect(firstContent.activeSlots).toEqual([0, 1, 2, 3, 4]);
    expect(firstContent.offline.days).toBe(7);
    expect(
      await count(
        server,
        "SELECT COUNT(*) AS n FROM notifications WHERE kind = 'device-received-offline-data' AND username = 'alice'",
      ),
    ).toBe(1);
    // Slot codes are encrypted at rest.
    const stored = await server.ctx.db.all<{ code_enc: Buffer }>('SELECT code_enc FROM offline_slots');
    for (const row of stored)
      expect(Buffer.from(row.code_enc).includes(Buffer.from(firstContent.slots[0]!.code))).toBe(false);
  });

  it('the shared verification refuses a changed byte, another key, an older sequence and another device', async () => {
    const tampered = structuredClone(first);
    const ct = Buffer.from(tampered.box.ciphertext, 'base64url');
    ct[100]! ^= 0x01;
    tampered.box.ciphertext = ct.toString('base64url');
    expect(verifyBundle(tampered, { pinned: dev.pinned, deviceId: dev.deviceId })).toEqual({
      ok: false,
      error: 'bad_signature',
    });
    const otherServer = await startTestServer();
    try {
      const otherKeys = otherServer.ctx.keys.allSigningKeys;
      expect(verifyBundle(first, { pinned: otherKeys, deviceId: dev.deviceId })).toEqual({
        ok: false,
        error: 'unknown_key',
      });
    } finally {
      await otherServer.close();
    }
    expect(verifyBundle(first, { pinned: dev.pinned, deviceId: dev.deviceId, lastSequence: 1 })).toEqual({
      ok: false,
      error: 'stale_sequence',
    });
    expect(verifyBundle(first, { pinned: dev.pinned, deviceId: 'ZZZZZZZZZZ' })).toEqual({
      ok: false,
      error: 'wrong_device',
    });
    expect(() => openBundle(first, new TestDevice(server).encryption)).toThrow();
  });

  it('an incremental refresh carries only the new windows and no slot twice', async () => {
    const held: HeldState = {
      throughStep: first.header.windowsTo,
      tokenGeneration: first.header.tokenGeneration,
      pinGeneration: first.header.pinGeneration,
      slots: [0, 1, 2, 3, 4],
    };
    nextStep(server);
    nextStep(server);
    const res = await dev.login('alice', PIN, oathtool(totp, server.clock.now()), held);
    expect(res.status).toBe(200);
    const delta: BundleDelta = res.body.bundle;
    expect(
      verifyBundle(delta, { pinned: dev.pinned, deviceId: dev.deviceId, lastSequence: first.header.sequence }).ok,
    ).toBe(true);
    expect(delta.header).toMatchObject({
      windowsFrom: first.header.windowsTo + 1,
      windowsTo: first.header.windowsTo + 2,
      replaceWindows: false,
    });
    const content = openBundle(delta, dev.encryption);
    expect(content.tokenWindows!.codes).toHaveLength(2 * 6); // two steps later: two new windows
    expect(content.slots).toEqual([]);
    expect(content.activeSlots).toEqual([0, 1, 2, 3, 4]);
    expect(
      await count(server, "SELECT COUNT(*) AS n FROM notifications WHERE kind = 'device-received-offline-data'"),
    ).toBe(1);
  });

  it('a temporary code login delivers no windows; a multi-use one says so for the agent to cache', async () => {
    expect(
      (await h.http('PATCH', '/api/v1/admin/settings', { settings: { temporaryCodesEnabled: true } })).status,
    ).toBe(200);
    const issued = await h.http('POST', '/api/v1/admin/users/alice/temporary-code', {
      expiresInMinutes: 120,
      multiUse: true,
    });
    expect(issued.status).toBe(201);
    const res = await dev.login('alice', PIN, issued.body.code);
    expect(res.status).toBe(200);
    expect(res.body.bundle).toBeUndefined();
    expect(res.body.result.payload.method).toBe('temporary');
    expect(res.body.result.payload.temporary).toEqual({ multiUse: true, expiresAt: issued.body.expiresAt });
  });

  it('emergency access reveals the slots in order, each once, audited with the reason', async () => {
    const request = encodeEmergencyRequest({ deviceId: dev.deviceId, username: 'alice', slot: 0 });
    const revealed: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await h.http('POST', '/api/v1/admin/emergency-access', {
        request: request.toLowerCase(),
        reason: 'lost phone, ticket 4711',
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ username: 'alice', device: dev.deviceId });
      expect(normalizeCode(res.body.code)).toBe(firstContent.slots[res.body.slot]!.code);
      revealed.push(res.body.slot);
    }
    expect(revealed).toEqual([0, 1, 2, 3, 4]);
    const none = await h.http('POST', '/api/v1/admin/emergency-access', { request, reason: 'lost phone, ticket 4711' });
    expect(none.status).toBe(409);
    expect(none.body.error).toBe('offline_unavailable');
    const badCheck = request.slice(0, 15) + (request[15] === '0' ? '1' : '0');
    expect((await h.http('POST', '/api/v1/admin/emergency-access', { request: badCheck, reason: 'typo' })).status).toBe(
      400,
    );
    expect(
      await count(
        server,
        "SELECT COUNT(*) AS n FROM audit WHERE type = 'offline.emergency-reveal' AND outcome = 'success' AND reason = 'lost phone, ticket 4711'",
      ),
    ).toBe(5);
    expect(
      await count(server, "SELECT COUNT(*) AS n FROM notifications WHERE kind = 'offline-emergency-revealed'"),
    ).toBe(5);
    expect(server.logLines.join('\n')).not.toContain(firstContent.slots[0]!.code);
  });

  it('sync records a batch once, burns windows centrally, flags future burns and retires used slots', async () => {
    const serverStep = nextStep(server);
    const used = serverStep + 1; // the agent's clock ran a little ahead: still within server time + 1 step
    const events = [
      dev.event({ at: server.clock.now(), type: 'offline-failure', username: 'alice', reason: 'invalid_code' }),
      dev.event({
        at: server.clock.now(),
        type: 'offline-success',
        username: 'alice',
        method: 'token',
        purpose: 'logon',
        step: used,
        tokenGeneration: first.header.tokenGeneration,
      }),
      dev.event({
        at: server.clock.now(),
        type: 'offline-success',
        username: 'alice',
        method: 'token',
        purpose: 'unlock',
        step: serverStep + 500,
      }),
      dev.event({
        at: server.clock.now(),
        type: 'offline-success',
        username: 'alice',
        method: 'offline-emergency',
        purpose: 'logon',
        slot: 0,
      }),
    ];
    const users = [
      {
        username: 'alice',
        tokenGeneration: first.header.tokenGeneration,
        pinGeneration: first.header.pinGeneration,
        slots: [0, 1, 2, 3, 4],
      },
    ];
    const res = await dev.sync(events, users);
    expect(res.status).toBe(200);
    expect(verifyServerMessage(dev.pinned, SIGNATURE_DOMAINS.syncAck, res.body.ack)).toBe(true);
    expect(verifyServerMessage(dev.pinned, SIGNATURE_DOMAINS.reset, res.body.resets)).toBe(true);
    expect(verifyServerMessage(dev.pinned, SIGNATURE_DOMAINS.keyRotation, res.body.keys)).toBe(true);
    expect(res.body.ack.payload.acknowledged).toEqual(events.map((e) => e.id));
    expect(res.body.ack.payload.duplicates).toEqual([]);
    expect(res.body.ack.payload.anomalies).toEqual([events[2]!.id]);
    expect(res.body.resets.payload.resets).toContainEqual({ kind: 'slots-retired', username: 'alice', slots: [0] });

    const again = await dev.sync(events, users);
    expect(again.status).toBe(200);
    expect(again.body.ack.payload.duplicates).toEqual(events.map((e) => e.id));
    expect(
      await count(server, "SELECT COUNT(*) AS n FROM audit WHERE type = 'device.offline-success' AND device = ?", [
        dev.deviceId,
      ]),
    ).toBe(2);
    expect(
      await count(
        server,
        "SELECT COUNT(*) AS n FROM audit WHERE type = 'device.sync-anomaly' AND reason = 'future_burn'",
      ),
    ).toBe(1);
    expect(
      await count(
        server,
        "SELECT COUNT(*) AS n FROM audit WHERE type = 'device.offline-failure' AND subject = 'alice'",
      ),
    ).toBe(1);
    const token = await server.ctx.db.get<{ last_step: number }>(
      "SELECT last_step FROM tokens t JOIN users u ON u.id = t.user_id WHERE u.username = 'alice'",
    );
    expect(Number(token!.last_step)).toBe(used);

    // The window used offline is refused online now.
    server.clock.set(used * STEP + 5_000);
    const online = await dev.login('alice', PIN, oathtool(totp, server.clock.now()));
    expect(online.status).toBe(401);
  });

  it('answers a PIN change and a revoked temporary code with signed resets', async () => {
    expect((await h.http('PUT', '/api/v1/admin/users/alice/pin', { pin: '739155' })).status).toBeLessThan(300);
    const temp = await h.http('GET', '/api/v1/admin/users/alice/temporary-code');
    expect(temp.body.active).toBe(true);
    const stillActive = await dev.sync(
      [],
      [
        {
          username: 'alice',
          tokenGeneration: first.header.tokenGeneration,
          pinGeneration: first.header.pinGeneration + 1,
          slots: [1, 2, 3, 4],
          temporaryExpiresAt: temp.body.expiresAt,
        },
      ],
    );
    expect(stillActive.body.resets.payload.resets.map((r: { kind: string }) => r.kind)).toEqual(['policy']);
    expect((await h.http('DELETE', '/api/v1/admin/users/alice/temporary-code')).status).toBeLessThan(300);
    const res = await dev.sync(
      [],
      [
        {
          username: 'alice',
          tokenGeneration: first.header.tokenGeneration,
          pinGeneration: first.header.pinGeneration,
          slots: [1, 2, 3, 4],
          temporaryExpiresAt: temp.body.expiresAt,
        },
      ],
    );
    expect(res.status).toBe(200);
    const kinds = res.body.resets.payload.resets.map((r: { kind: string }) => r.kind);
    expect(kinds).toContain('pin-changed');
    expect(kinds).toContain('temporary-revoked');
    expect(kinds).not.toContain('slots-retired');
    expect(kinds).toContain('policy');
  });

  it('reset-offline retires the slots and fresh ones arrive at the next login', async () => {
    const reset = await h.http('POST', `/api/v1/admin/devices/${dev.deviceId}/reset-offline`, { username: 'alice' });
    expect(reset.status).toBe(200);
    expect(reset.body.retiredSlots).toBe(4);
    const sync = await dev.sync(
      [],
      [
        {
          username: 'alice',
          tokenGeneration: first.header.tokenGeneration,
          pinGeneration: first.header.pinGeneration + 1,
          slots: [1, 2, 3, 4],
        },
      ],
    );
    expect(sync.body.resets.payload.resets).toContainEqual({
      kind: 'slots-retired',
      username: 'alice',
      slots: [1, 2, 3, 4],
    });
    nextStep(server);
    nextStep(server);
    const res = await dev.login('alice', '739155', oathtool(totp, server.clock.now()), {
      throughStep: first.header.windowsTo,
      tokenGeneration: first.header.tokenGeneration,
      pinGeneration: first.header.pinGeneration,
      slots: [],
    });
    expect(res.status).toBe(200);
    const content = openBundle(res.body.bundle, dev.encryption);
    expect(res.body.bundle.header.replaceWindows).toBe(true); // the PIN changed: old verifiers are void
    expect(content.slots.map((s) => s.index)).toEqual([5, 6, 7, 8, 9]);
    expect(content.activeSlots).toEqual([5, 6, 7, 8, 9]);
    expect(
      await count(server, "SELECT COUNT(*) AS n FROM audit WHERE type = 'device.reset-offline' AND subject = 'alice'"),
    ).toBe(1);
  });

  it('takes a full batch of outbox events in one upload', async () => {
    const events = Array.from({ length: MAX_EVENTS_PER_BATCH }, () =>
      dev.event({ at: server.clock.now(), type: 'offline-failure', username: 'alice', reason: 'invalid_code' }),
    );
    const res = await dev.sync(events, []);
    expect(res.status).toBe(200);
    expect(res.body.ack.payload.acknowledged).toHaveLength(MAX_EVENTS_PER_BATCH);
    const tooMany = [
      ...events,
      dev.event({ at: server.clock.now(), type: 'offline-failure', username: 'alice', reason: 'invalid_code' }),
    ];
    expect((await dev.sync(tooMany, [])).status).toBe(400);
  });

  it('a revoked device gets only a signed wipe order', async () => {
    expect((await h.http('POST', `/api/v1/admin/devices/${dev.deviceId}/revoke`)).status).toBe(200);
    nextStep(server);
    for (const res of [
      await dev.login('alice', '739155', oathtool(totp, server.clock.now())),
      await dev.sync([], []),
    ]) {
      expect(res.status).toBe(403);
      expect(Object.keys(res.body).sort()).toEqual(['error', 'message', 'wipe']);
      expect(res.body.wipe.payload).toMatchObject({ deviceId: dev.deviceId, reason: 'device-revoked' });
      expect(verifyServerMessage(dev.pinned, SIGNATURE_DOMAINS.wipe, res.body.wipe)).toBe(true);
    }
    expect(
      await count(server, 'SELECT COUNT(*) AS n FROM offline_slots WHERE device_id = ? AND retired_at IS NULL', [
        dev.deviceId,
      ]),
    ).toBe(0);
    const list = await h.http('GET', '/api/v1/admin/devices?status=revoked');
    expect(list.body.devices.map((d: { deviceId: string }) => d.deviceId)).toEqual([dev.deviceId]);
    const byId = await h.http('GET', `/api/v1/admin/devices?q=${dev.deviceId.toLowerCase()}`);
    expect(byId.body.devices).toHaveLength(1);
    expect(byId.body.devices[0].users).toEqual(['alice']);
  });

  it('the device endpoints are in the OpenAPI document', async () => {
    const doc = await h.http('GET', '/api/v1/openapi.json');
    expect(doc.status).toBe(200);
    for (const p of [
      '/api/v1/devices/enroll',
      '/api/v1/devices/login',
      '/api/v1/devices/sync',
      '/api/v1/admin/emergency-access',
      '/api/v1/admin/devices/{device}/reset-offline',
    ]) {
      expect(Object.keys(doc.body.paths)).toContain(p);
    }
  });
});
