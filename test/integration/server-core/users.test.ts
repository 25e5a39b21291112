import { describe, expect, it } from 'vitest';
import {
  createUser,
  enableTemporaryCodes,
  secretFromUri,
  startAdminServer,
  type AdminHarness,
} from '../../helpers/admin.js';
import { oathtool } from '../../helpers/oathtool.js';
import type { TestServer } from '../../helpers/server.js';
import { useHarness } from '../../helpers/hooks.js';

let server: TestServer;
let h: AdminHarness;
useHarness('each', startAdminServer, (started) => {
  h = started;
  server = started.server;
});

const notifications = (username: string) =>
  server.ctx.db.all<{ kind: string; details: string }>(
    'SELECT kind, details FROM notifications WHERE username = ? ORDER BY id',
    [username],
  );

describe('users', () => {
  it('creates, finds, searches, deactivates and assigns a policy', async () => {
    const created = await h.http('POST', '/api/v1/admin/users', {
      username: '  Alice.Smith@Corp ',
      displayName: 'Alice Smith',
      email: 'alice@example.com',
    });
    expect(created.status).toBe(201);
    expect(created.body.username).toBe('alice.smith@corp');
    expect(created.body.status).toBe('active');
    expect(created.body.policy).toBe('default');
    expect((await h.http('POST', '/api/v1/admin/users', { username: 'ALICE.SMITH@corp' })).status).toBe(409);
    await h.http('POST', '/api/v1/admin/users', { username: 'bob' });
    const search = await h.http('GET', '/api/v1/admin/users?q=smith');
    expect(search.body.users.map((u: { username: string }) => u.username)).toEqual(['alice.smith@corp']);
    expect((await h.http('GET', '/api/v1/admin/users/Alice.Smith@corp')).body.displayName).toBe('Alice Smith');
    expect((await h.http('GET', '/api/v1/admin/users/nobody')).status).toBe(404);

    const pol = await h.http('PATCH', '/api/v1/admin/settings', {
      policies: { contractors: { enrollmentAllowed: false, offline: { allowed: false } } },
    });
    expect(pol.status).toBe(200);
    const patched = await h.http('PATCH', '/api/v1/admin/users/bob', { status: 'inactive', policy: 'contractors' });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ status: 'inactive', policy: 'contractors' });
    expect((await h.http('PATCH', '/api/v1/admin/users/bob', { policy: 'nope' })).status).toBe(400);
    const audit = await h.http('GET', '/api/v1/admin/audit?username=bob&type=user.');
    expect(audit.body.events.map((e: { type: string }) => e.type)).toEqual(['user.updated', 'user.created']);
  });

  it('enrolls a TOTP token whose codes oathtool reproduces; the seed is stored encrypted and shown once', async () => {
    await createUser(h, 'carol', { email: 'carol@example.com' });
    const res = await h.http('POST', '/api/v1/admin/users/carol/token', {});
    expect(res.status).toBe(200);
    expect(res.body.otpauthUri).toMatch(/^otpauth:\/\/totp\/Lifeline:carol\?/);
    const secret = secretFromUri(res.body.otpauthUri);
    // The server's own TOTP check agrees with oathtool's code for this seed.
    const { matchTokenStep } = await import('../../../src-server/services/totp.js');
    const now = server.clock.now();
    expect(await matchTokenStep({ secret, algorithm: 'SHA1', digits: 6, period: 30 }, oathtool(secret, now), now)).toBe(
      Math.floor(now / 30_000),
    );
    const user = await h.http('GET', '/api/v1/admin/users/carol');
    expect(user.body.token).toMatchObject({ algorithm: 'SHA1', digits: 6, period: 30 });
    expect(user.body.tokenGeneration).toBe(1);
    expect(JSON.stringify(user.body)).not.toContain(secret);
    const row = (await server.ctx.db.get<{ seed_enc: Buffer }>('SELECT seed_enc FROM tokens'))!;
    expect(row.seed_enc.length).toBeGreaterThan(secret.length);
    expect(row.seed_enc.includes(Buffer.from(secret))).toBe(false);
    expect((await notifications('carol')).map((n) => n.kind)).toEqual(['token-enrolled']);

    // Re-enrolling replaces the seed and bumps the generation; deleting (stolen device) bumps it again.
    const again = await h.http('POST', '/api/v1/admin/users/carol/token', { digits: 8, algorithm: 'SHA256' });
    expect(secretFromUri(again.body.otpauthUri)).not.toBe(secret);
    expect(again.body).toMatchObject({ digits: 8, algorithm: 'SHA256' });
    expect((await h.http('DELETE', '/api/v1/admin/users/carol/token')).status).toBe(200);
    expect((await h.http('DELETE', '/api/v1/admin/users/carol/token')).status).toBe(404);
    const after = await h.http('GET', '/api/v1/admin/users/carol');
    expect(after.body.token).toBeNull();
    expect(after.body.tokenGeneration).toBe(3);
    expect((await notifications('carol')).map((n) => n.kind)).toEqual([
      'token-enrolled',
      'token-enrolled',
      'token-deleted',
    ]);
  });

  it('enrolling a token revokes the active temporary code (policy default) and the answer is not cacheable', async () => {
    await enableTemporaryCodes(h);
    await createUser(h, 'tess', { pin: '135790' });
    const issued = await h.http('POST', '/api/v1/admin/users/tess/temporary-code', {
      expiresInMinutes: 60,
      multiUse: false,
    });
    expect(issued.status).toBe(201);
    expect((await h.http('GET', '/api/v1/admin/users/tess')).body.temporaryCode).not.toBeNull();
    const enrolled = await h.http('POST', '/api/v1/admin/users/tess/token', {});
    expect(enrolled.headers.get('cache-control')).toBe('no-store');
    expect((await h.http('GET', '/api/v1/admin/users/tess')).body.temporaryCode).toBeNull();
    const audit = await h.http('GET', '/api/v1/admin/audit?username=tess');
    const types = audit.body.events.map(
      (e: { type: string; reason: string | null }) => `${e.type}${e.reason ? ':' + e.reason : ''}`,
    );
    expect(types).toContain('token.enrolled');
    expect(types.some((t: string) => t.includes('revoke') && t.includes('token-enrolled'))).toBe(true);
  });

  it('refuses enrollment where the policy forbids it (contractors)', async () => {
    await h.http('PATCH', '/api/v1/admin/settings', { policies: { contractors: { enrollmentAllowed: false } } });
    await createUser(h, 'dave', { policy: 'contractors' });
    const res = await h.http('POST', '/api/v1/admin/users/dave/token', {});
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('policy_violation');
    expect((await h.http('GET', '/api/v1/admin/users/dave')).body.token).toBeNull();
  });

  it('sets a PIN of at least the policy length, hashed, bumping the PIN generation and notifying', async () => {
    await createUser(h, 'erin');
    const short = await h.http('PUT', '/api/v1/admin/users/erin/pin', { pin: '12345' });
    expect(short.status).toBe(400);
    expect(short.body.error).toBe('policy_violation');
    expect((await h.http('PUT', '/api/v1/admin/users/erin/pin', { pin: '482913' })).status).toBe(200);
    const user = await h.http('GET', '/api/v1/admin/users/erin');
    expect(user.body).toMatchObject({ hasPin: true, pinGeneration: 1 });
    const { checkPin } = await import('../../../src-server/services/pin.js');
    const row = (await server.ctx.db.get<{ pin_hash: Buffer; pin_salt: Buffer }>(
      "SELECT pin_hash, pin_salt FROM users WHERE username = 'erin'",
    ))!;
    expect(row.pin_hash.includes(Buffer.from('482913'))).toBe(false);
    expect(await checkPin(server.ctx, row, '482913')).toBe(true);
    expect(await checkPin(server.ctx, row, '482914')).toBe(false);
    expect(await checkPin(server.ctx, row, undefined)).toBe(false);
    expect(await checkPin(server.ctx, { pin_hash: null, pin_salt: null }, '')).toBe(false);
    expect((await notifications('erin')).map((n) => n.kind)).toEqual(['pin-set']);
  });

  it('unlock clears failures, lock periods and a permanent lock, and is audited', async () => {
    await createUser(h, 'frank');
    await server.ctx.db.run(
      "UPDATE users SET failures = 2, lock_periods = 10, locked_until = ?, locked_permanently = 1 WHERE username = 'frank'",
      [server.clock.now() + 60_000],
    );
    expect((await h.http('GET', '/api/v1/admin/users/frank')).body.lock).toMatchObject({
      locked: true,
      lockedPermanently: true,
      lockPeriods: 10,
    });
    const res = await h.http('POST', '/api/v1/admin/users/frank/unlock');
    expect(res.status).toBe(200);
    expect(res.body.lock).toEqual({
      locked: false,
      lockedUntil: null,
      lockedPermanently: false,
      failures: 0,
      lockPeriods: 0,
    });
    const audit = await h.http('GET', '/api/v1/admin/audit?username=frank&type=user.unlocked');
    expect(audit.body.events[0].details).toMatchObject({
      wasLocked: true,
      lockPeriods: 10,
      wasLockedPermanently: true,
    });
  });

  it('every change needs high assurance and the right permission', async () => {
    await createUser(h, 'gina');
    server.clock.advance(16 * 60 * 1000);
    for (const [method, p, body] of [
      ['POST', '/api/v1/admin/users', { username: 'hank' }],
      ['PATCH', '/api/v1/admin/users/gina', { status: 'inactive' }],
      ['POST', '/api/v1/admin/users/gina/unlock', undefined],
      ['POST', '/api/v1/admin/users/gina/token', {}],
      ['DELETE', '/api/v1/admin/users/gina/token', undefined],
      ['PUT', '/api/v1/admin/users/gina/pin', { pin: '123456' }],
    ] as const) {
      const res = await h.http(method, p, body);
      expect(res.status, `${method} ${p}`).toBe(403);
      expect(res.body.error).toBe('step_up_required');
    }
    // Reading is not a change: no step-up needed.
    expect((await h.http('GET', '/api/v1/admin/users/gina')).status).toBe(200);
  });
});
