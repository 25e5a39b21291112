import { createSocket, type RemoteInfo } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRadiusServer, type RadiusServer } from '../../../src-server/radius/server.js';
import { bootstrap, createUser, enableTemporaryCodes, type AdminHarness } from '../../helpers/admin.js';
import { oathtool } from '../../helpers/oathtool.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { radclient, radtest } from './radclient.js';

const PIN = '246810';

/** A token code that is NOT the right one for this instant (for counted failures). */
function wrongCode(right: string): string {
  return String((Number(right) + 1) % 1_000_000).padStart(6, '0');
}

async function verifyRows(
  server: TestServer,
  username: string,
  afterId = 0,
): Promise<
  { id: number; outcome: string; actor_kind: string; actor: string; reason: string | null; purpose: string }[]
> {
  return server.ctx.db.all('SELECT * FROM audit WHERE subject = ? AND type = ? AND id > ? ORDER BY id', [
    username,
    'verify.attempt',
    afterId,
  ]);
}

async function lastAuditId(server: TestServer): Promise<number> {
  const row = await server.ctx.db.get<{ id: number }>('SELECT MAX(id) AS id FROM audit');
  return Number(row?.id ?? 0);
}

/** Moves the server clock to the start of the next TOTP step, so every token test has a fresh step. */
function nextStep(server: TestServer): void {
  server.clock.set((Math.floor(server.clock.now() / 30_000) + 1) * 30_000 + 2_000);
}

describe('RADIUS front end driven by FreeRADIUS radclient/radtest', () => {
  let server: TestServer;
  let h: AdminHarness;
  let radius: RadiusServer;
  let secret: string;

  beforeAll(async () => {
    server = await startTestServer();
    h = await bootstrap(server);
    await enableTemporaryCodes(h);
    radius = await startRadiusServer(server.ctx, { host: '127.0.0.1', port: 0, admission: server.app.admission });
    const res = await h.http('POST', '/api/v1/admin/radius-clients', { name: 'vpn-gw', addresses: ['127.0.0.1/32'] });
    expect(res.status).toBe(201);
    secret = res.body.secret;
  }, 30_000);

  afterAll(async () => {
    await radius?.close();
    await server?.close();
  });

  it('registers NAS clients: secret shown once, never listed, duplicates refused, bad CIDRs refused, relaxing audited', async () => {
    expect(secret).toMatch(/^[0-9a-f]{32}$/);
    const list = await h.http('GET', '/api/v1/admin/radius-clients');
    expect(list.status).toBe(200);
    expect(list.body.clients).toEqual([
      expect.objectContaining({ name: 'vpn-gw', addresses: ['127.0.0.1/32'], requireMessageAuthenticator: true }),
    ]);
    expect(JSON.stringify(list.body)).not.toContain(secret);
    const stored = await server.ctx.db.get<{ secret_enc: Buffer }>(
      'SELECT secret_enc FROM radius_clients WHERE name = ?',
      ['vpn-gw'],
    );
    expect(Buffer.from(stored!.secret_enc).includes(Buffer.from(secret))).toBe(false);

    expect(
      (await h.http('POST', '/api/v1/admin/radius-clients', { name: 'vpn-gw', addresses: ['10.0.0.1'] })).status,
    ).toBe(409);
    expect(
      (await h.http('POST', '/api/v1/admin/radius-clients', { name: 'bad', addresses: ['10.0.0.0/33'] })).status,
    ).toBe(400);
    expect(
      (await h.http('POST', '/api/v1/admin/radius-clients', { name: 'x', addresses: ['10.0.0.1'], extra: 1 })).status,
    ).toBe(400);
    expect(
      (await h.http('POST', '/api/v1/admin/radius-clients', { name: 'old-asa', addresses: ['192.0.2.0/24'] }, null))
        .status,
    ).toBe(401);

    const relaxed = await h.http('POST', '/api/v1/admin/radius-clients', {
      name: 'old-asa',
      addresses: ['192.0.2.0/24'],
      requireMessageAuthenticator: false,
    });
    expect(relaxed.status).toBe(201);
    const audit = await server.ctx.db.all<{ type: string; actor: string; details: string }>(
      "SELECT type, actor, details FROM audit WHERE type LIKE 'radius.client.%' ORDER BY id",
    );
    expect(audit.map((a) => a.type)).toEqual([
      'radius.client.created',
      'radius.client.created',
      'radius.client.message_authenticator_relaxed',
    ]);
    expect(
      audit.every(
        (a) => a.actor === 'admin' && !a.details.includes(secret) && !a.details.includes(relaxed.body.secret),
      ),
    ).toBe(true);
    expect((await h.http('DELETE', '/api/v1/admin/radius-clients/old-asa')).status).toBe(200);
    expect((await h.http('DELETE', '/api/v1/admin/radius-clients/old-asa')).status).toBe(404);
  });

  it('accepts PIN + an oathtool token code (radtest) and refuses its replay (radclient); the audit row names the NAS', async () => {
    const alice = await createUser(h, 'alice', { pin: PIN, withToken: true });
    nextStep(server);
    const code = oathtool(alice.totpSecret!, server.clock.now());
    const first = await radtest(radius.port, secret, 'alice', PIN + code);
    expect(first.code).toBe('Access-Accept');
    const replay = await radclient(radius.port, secret, { 'User-Name': 'alice', 'User-Password': PIN + code });
    expect(replay.code).toBe('Access-Reject');
    const rows = await verifyRows(server, 'alice');
    expect(rows.map((r) => [r.outcome, r.actor_kind, r.actor, r.purpose, r.reason])).toEqual([
      ['success', 'radius', 'vpn-gw', 'remote-access', null],
      ['failure', 'radius', 'vpn-gw', 'remote-access', 'replayed'],
    ]);
  });

  it('accepts PIN + a temporary code typed in groups', async () => {
    await createUser(h, 'bob', { pin: PIN });
    const issued = await h.http('POST', '/api/v1/admin/users/bob/temporary-code', {
      expiresInMinutes: 60,
      multiUse: false,
    });
    expect(issued.status).toBe(201);
    const reply = await radclient(radius.port, secret, { 'User-Name': 'bob', 'User-Password': PIN + issued.body.code });
    expect(reply.code).toBe('Access-Accept');
    const again = await radclient(radius.port, secret, { 'User-Name': 'bob', 'User-Password': PIN + issued.body.code });
    expect(again.code).toBe('Access-Reject');
  });

  it('accepts an emergency code once', async () => {
    await createUser(h, 'carol', { pin: PIN, withToken: true });
    const issued = await h.http('POST', '/api/v1/admin/users/carol/emergency-codes', { count: 3 });
    expect(issued.status).toBe(201);
    const code = String(issued.body.codes[0]);
    expect((await radclient(radius.port, secret, { 'User-Name': 'carol', 'User-Password': PIN + code })).code).toBe(
      'Access-Accept',
    );
    expect((await radclient(radius.port, secret, { 'User-Name': 'carol', 'User-Password': PIN + code })).code).toBe(
      'Access-Reject',
    );
    expect((await verifyRows(server, 'carol')).map((r) => r.outcome)).toEqual(['success', 'failure']);
  });

  it('challenges when no code can be read (no PIN check yet), then checks PIN + code as one attempt; states are single-use and expire', async () => {
    const dave = await createUser(h, 'dave', { pin: PIN, withToken: true });
    const before = await lastAuditId(server);

    // A wrong PIN alone still gets the challenge: nothing is checked yet, so nothing is learnt about the PIN.
    const wrongPin = await radclient(radius.port, secret, { 'User-Name': 'dave', 'User-Password': 'not-the-pin' });
    expect(wrongPin.code).toBe('Access-Challenge');
    expect(wrongPin.attributes['State']).toMatch(/^0x[0-9a-f]{32}$/);
    expect(wrongPin.attributes['Reply-Message']).toMatch(/code/i);

    const challenge = await radclient(radius.port, secret, { 'User-Name': 'dave', 'User-Password': PIN });
    expect(challenge.code).toBe('Access-Challenge');
    expect(await verifyRows(server, 'dave', before)).toEqual([]);

    nextStep(server);
    const code = oathtool(dave.totpSecret!, server.clock.now());
    const state = challenge.attributes['State']!;
    const answer = await radclient(radius.port, secret, { 'User-Name': 'dave', 'User-Password': code, State: state });
    expect(answer.code).toBe('Access-Accept');
    const reused = await radclient(radius.port, secret, { 'User-Name': 'dave', 'User-Password': code, State: state });
    expect(reused.code).toBe('Access-Reject');

    // The wrong-PIN challenge answered with a right code: one counted failure, not a hint about which part was wrong.
    nextStep(server);
    const viaWrongPin = await radclient(radius.port, secret, {
      'User-Name': 'dave',
      'User-Password': oathtool(dave.totpSecret!, server.clock.now()),
      State: wrongPin.attributes['State']!,
    });
    expect(viaWrongPin.code).toBe('Access-Reject');
    expect((await verifyRows(server, 'dave', before)).map((r) => [r.outcome, r.reason])).toEqual([
      ['success', null],
      ['failure', 'wrong_pin_or_code'],
    ]);

    const stale = await radclient(radius.port, secret, { 'User-Name': 'dave', 'User-Password': PIN });
    server.clock.advance(5 * 60_000);
    const late = await radclient(radius.port, secret, {
      'User-Name': 'dave',
      'User-Password': oathtool(dave.totpSecret!, server.clock.now()),
      State: stale.attributes['State']!,
    });
    expect(late.code).toBe('Access-Reject');
    expect(await verifyRows(server, 'dave', before)).toHaveLength(2);
  });

  it('tries a password that reads two ways (PIN of 8 + token, or PIN of 6 + emergency code) as ONE attempt', async () => {
    const longPin = '24681012';
    const henry = await createUser(h, 'henry', { pin: longPin, withToken: true });
    nextStep(server);
    const right = oathtool(henry.totpSecret!, server.clock.now());
    expect(
      (await radclient(radius.port, secret, { 'User-Name': 'henry', 'User-Password': longPin + wrongCode(right) }))
        .code,
    ).toBe('Access-Reject');
    const failures = await server.ctx.db.get<{ failures: number }>('SELECT failures FROM users WHERE username = ?', [
      'henry',
    ]);
    expect(Number(failures!.failures)).toBe(1);
    expect(
      (await radclient(radius.port, secret, { 'User-Name': 'henry', 'User-Password': longPin + right })).code,
    ).toBe('Access-Accept');
    expect((await verifyRows(server, 'henry')).map((r) => [r.outcome, r.reason])).toEqual([
      ['failure', 'wrong_pin_or_code'],
      ['success', null],
    ]);
  });

  it('takes the code alone where the policy needs no PIN (temporary code, then token code)', async () => {
    const patched = await h.http('PATCH', '/api/v1/admin/settings', {
      policies: {
        contractors: { pin: { required: false }, offline: { allowed: false }, temporaryCodes: { pinRequired: false } },
      },
    });
    expect(patched.status).toBe(200);
    const kim = await createUser(h, 'kim', { policy: 'contractors', withToken: true });
    const issued = await h.http('POST', '/api/v1/admin/users/kim/temporary-code', {
      expiresInMinutes: 60,
      multiUse: false,
    });
    expect(issued.status).toBe(201);
    expect((await radclient(radius.port, secret, { 'User-Name': 'kim', 'User-Password': issued.body.code })).code).toBe(
      'Access-Accept',
    );
    nextStep(server);
    const code = oathtool(kim.totpSecret!, server.clock.now());
    expect((await radclient(radius.port, secret, { 'User-Name': 'kim', 'User-Password': code })).code).toBe(
      'Access-Accept',
    );
    expect((await verifyRows(server, 'kim')).map((r) => r.outcome)).toEqual(['success', 'success']);
  });

  it('drops a wrong shared secret and a request without Message-Authenticator silently (radclient times out), and counts them', async () => {
    await createUser(h, 'erin', { pin: PIN, withToken: true });
    const before = { ...radius.stats.dropped };
    const wrongSecret = await radclient(radius.port, 'not-the-secret', {
      'User-Name': 'erin',
      'User-Password': PIN + '123456',
    });
    expect(wrongSecret.code).toBeUndefined();
    expect(wrongSecret.output).toMatch(/No reply from server/);
    const unsigned = await radclient(
      radius.port,
      secret,
      { 'User-Name': 'erin', 'User-Password': PIN + '123456' },
      { messageAuthenticator: false },
    );
    expect(unsigned.code).toBeUndefined();
    expect(radius.stats.dropped.badMessageAuthenticator).toBe(before.badMessageAuthenticator + 1);
    expect(radius.stats.dropped.missingMessageAuthenticator).toBe(before.missingMessageAuthenticator + 1);
    expect(await verifyRows(server, 'erin')).toEqual([]);
  });

  it('after three wrong codes answers Access-Reject while locked, even to the right code', async () => {
    const frank = await createUser(h, 'frank', { pin: PIN, withToken: true });
    nextStep(server);
    const right = oathtool(frank.totpSecret!, server.clock.now());
    for (let i = 0; i < 3; i++) {
      expect(
        (await radclient(radius.port, secret, { 'User-Name': 'frank', 'User-Password': PIN + wrongCode(right) })).code,
      ).toBe('Access-Reject');
    }
    const locked = await radclient(radius.port, secret, { 'User-Name': 'frank', 'User-Password': PIN + right });
    expect(locked.code).toBe('Access-Reject');
    expect(locked.attributes['Reply-Message']).toMatch(/Too many failed attempts/);
    expect((await verifyRows(server, 'frank')).map((r) => r.reason)).toEqual([
      'wrong_pin_or_code',
      'wrong_pin_or_code',
      'wrong_pin_or_code',
      'locked',
    ]);
  });

  it('answers a retransmitted request (same bytes, also while in flight) with the same answer and one verification', async () => {
    const grace = await createUser(h, 'grace', { pin: PIN, withToken: true });
    nextStep(server);
    const code = oathtool(grace.totpSecret!, server.clock.now());
    const duplicatesBefore = radius.stats.duplicates;

    // A relay between radclient and the server: radclient builds and signs the packet; the relay sends its exact
    // bytes twice at once (the second copy arrives while the first is being verified) and a third time after the
    // answer, all from one source port, as a retransmitting NAS does.
    const relay = createSocket('udp4');
    const answers: Buffer[] = [];
    let nas: RemoteInfo | undefined;
    let request: Buffer | undefined;
    const allAnswered = new Promise<void>((resolve) => {
      relay.on('message', (msg, from) => {
        if (from.port === radius.port) {
          answers.push(msg);
          if (answers.length === 1) {
            relay.send(msg, nas!.port, nas!.address);
            relay.send(request!, radius.port, '127.0.0.1');
          }
          if (answers.length === 3) resolve();
          return;
        }
        nas = from;
        request = msg;
        relay.send(msg, radius.port, '127.0.0.1');
        relay.send(msg, radius.port, '127.0.0.1');
      });
    });
    await new Promise<void>((resolve) => relay.bind(0, '127.0.0.1', resolve));
    const reply = await radclient(relay.address().port, secret, { 'User-Name': 'grace', 'User-Password': PIN + code });
    await allAnswered;
    relay.close();

    expect(reply.code).toBe('Access-Accept');
    expect(answers[1]!.equals(answers[0]!)).toBe(true);
    expect(answers[2]!.equals(answers[0]!)).toBe(true);
    expect(radius.stats.duplicates).toBe(duplicatesBefore + 2);
    expect((await verifyRows(server, 'grace')).map((r) => r.outcome)).toEqual(['success']);
  });

  it('writes no shared secret, PIN or code to the logs', () => {
    const logs = server.logLines.join('');
    expect(logs).toContain('RADIUS server listening');
    expect(logs).not.toContain(secret);
    expect(logs).not.toContain(PIN);
  });

  it('drops packets from a client once it is deleted (unknown source)', async () => {
    const other = await h.http('POST', '/api/v1/admin/radius-clients', { name: 'temp-gw', addresses: ['127.0.0.1'] });
    expect(other.status).toBe(201);
    // The /32 of vpn-gw and the bare address of temp-gw are equally specific; delete both to leave the source unknown.
    expect((await h.http('DELETE', '/api/v1/admin/radius-clients/temp-gw')).status).toBe(200);
    expect((await h.http('DELETE', '/api/v1/admin/radius-clients/vpn-gw')).status).toBe(200);
    const before = radius.stats.dropped.unknownSource;
    const reply = await radclient(radius.port, secret, { 'User-Name': 'alice', 'User-Password': PIN + '123456' });
    expect(reply.code).toBeUndefined();
    expect(radius.stats.dropped.unknownSource).toBe(before + 1);
  });
});

describe('RADIUS client with Message-Authenticator relaxed (old gateway)', () => {
  let server: TestServer;
  let h: AdminHarness;
  let radius: RadiusServer;
  let secret: string;

  beforeAll(async () => {
    server = await startTestServer();
    h = await bootstrap(server);
    radius = await startRadiusServer(server.ctx, { host: '127.0.0.1', port: 0, admission: server.app.admission });
    const res = await h.http('POST', '/api/v1/admin/radius-clients', {
      name: 'legacy-fw',
      addresses: ['127.0.0.0/8'],
      requireMessageAuthenticator: false,
    });
    secret = res.body.secret;
  }, 30_000);

  afterAll(async () => {
    await radius?.close();
    await server?.close();
  });

  it('reports a burst of wrong-secret requests, never counts them against the user, and pauses unsigned requests', async () => {
    const ivan = await createUser(h, 'ivan', { pin: PIN, withToken: true });
    nextStep(server);
    // A wrong secret turns the password into noise: radclient cannot read our (rightly signed) answer either.
    const noisy = await Promise.all(
      Array.from({ length: 6 }, () =>
        radclient(
          radius.port,
          'wrong-secret',
          { 'User-Name': 'ivan', 'User-Password': PIN + '123456' },
          { messageAuthenticator: false },
        ),
      ),
    );
    expect(noisy.every((r) => r.code === undefined)).toBe(true);
    expect(radius.stats.noisyPasswords).toBe(6);
    expect(radius.stats.noiseBursts).toBe(1);
    const user = await server.ctx.db.get<{ failures: number; locked_until: number | null }>(
      'SELECT failures, locked_until FROM users WHERE username = ?',
      ['ivan'],
    );
    expect([Number(user!.failures), user!.locked_until]).toEqual([0, null]);
    expect(await verifyRows(server, 'ivan')).toEqual([]);
    const reported = await server.ctx.db.all<{ actor: string }>(
      "SELECT actor FROM audit WHERE type = 'radius.client.noise_burst'",
    );
    expect(reported).toEqual([{ actor: 'legacy-fw' }]);

    // During the burst even a right unsigned request is refused unverified; a signed one is still served.
    const code = oathtool(ivan.totpSecret!, server.clock.now());
    expect(
      (
        await radclient(
          radius.port,
          secret,
          { 'User-Name': 'ivan', 'User-Password': PIN + code },
          { messageAuthenticator: false },
        )
      ).code,
    ).toBe('Access-Reject');
    expect(await verifyRows(server, 'ivan')).toEqual([]);
    expect((await radclient(radius.port, secret, { 'User-Name': 'ivan', 'User-Password': PIN + code })).code).toBe(
      'Access-Accept',
    );

    server.clock.advance(61_000);
    nextStep(server);
    const later = oathtool(ivan.totpSecret!, server.clock.now());
    expect(
      (
        await radclient(
          radius.port,
          secret,
          { 'User-Name': 'ivan', 'User-Password': PIN + later },
          { messageAuthenticator: false },
        )
      ).code,
    ).toBe('Access-Accept');
  });
});
