import { describe, expect, it } from 'vitest';
import {
  createAdminAndLogin,
  loginAdmin,
  nextTotp,
  startAdminServer,
  TEST_ADMIN_PASSWORD,
  type AdminHarness,
} from '../../helpers/admin.js';
import { oathtool } from '../../helpers/oathtool.js';
import type { TestServer } from '../../helpers/server.js';
import { useHarness } from '../../helpers/hooks.js';
import { LOGIN_LIMITS } from '../../../src-server/services/admin-login.js';

let server: TestServer;
let h: AdminHarness;
useHarness('each', startAdminServer, (started) => {
  h = started;
  server = started.server;
});

describe('admin sign-in', () => {
  it('needs both the password and a TOTP code; either wrong gives the same 401', async () => {
    const wrongPassword = await h.http(
      'POST',
      '/api/v1/admin/sessions',
      { username: 'admin', password: 'wrong password!!', otp: nextTotp(server, h.adminTotpSecret) },
      null,
    );
    expect(wrongPassword.status).toBe(401);
    expect(wrongPassword.body.error).toBe('invalid_credentials');
    nextTotp(server, h.adminTotpSecret);
    const wrongOtp = await h.http(
      'POST',
      '/api/v1/admin/sessions',
      { username: 'admin', password: TEST_ADMIN_PASSWORD, otp: '000000' },
      null,
    );
    expect(wrongOtp.status).toBe(401);
    expect(wrongOtp.body.error).toBe('invalid_credentials');
    expect(wrongOtp.body.message).toBe(wrongPassword.body.message);
    const unknown = await h.http(
      'POST',
      '/api/v1/admin/sessions',
      { username: 'nobody', password: TEST_ADMIN_PASSWORD, otp: '123456' },
      null,
    );
    expect(unknown.status).toBe(401);
    const ok = await h.http(
      'POST',
      '/api/v1/admin/sessions',
      { username: 'ADMIN', password: TEST_ADMIN_PASSWORD, otp: nextTotp(server, h.adminTotpSecret) },
      null,
    );
    expect(ok.status).toBe(200);
    expect(ok.body.roles).toEqual(['superadmin']);
    expect(ok.body.token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    const me = await h.http('GET', '/api/v1/admin/sessions/current', undefined, ok.body.token);
    expect(me.status).toBe(200);
    expect(me.body.username).toBe('admin');
  });

  it('accepts each TOTP time step once', async () => {
    const otp = nextTotp(server, h.adminTotpSecret);
    const first = await h.http(
      'POST',
      '/api/v1/admin/sessions',
      { username: 'admin', password: TEST_ADMIN_PASSWORD, otp },
      null,
    );
    expect(first.status).toBe(200);
    const replay = await h.http(
      'POST',
      '/api/v1/admin/sessions',
      { username: 'admin', password: TEST_ADMIN_PASSWORD, otp },
      null,
    );
    expect(replay.status).toBe(401);
    // An older step (the previous code, within the drift window) is refused too once a later one was used.
    const older = oathtool(h.adminTotpSecret, server.clock.now() - 30_000);
    const back = await h.http(
      'POST',
      '/api/v1/admin/sessions',
      { username: 'admin', password: TEST_ADMIN_PASSWORD, otp: older },
      null,
    );
    expect(back.status).toBe(401);
    const audit = await server.ctx.db.all<{ reason: string }>(
      "SELECT reason FROM audit WHERE type = 'admin.login' AND outcome = 'failure'",
    );
    expect(audit.map((r) => r.reason)).toContain('otp_replayed');
  });

  it('one TOTP code raced by 10 concurrent sign-ins opens exactly one session', async () => {
    const otp = nextTotp(server, h.adminTotpSecret);
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        h.http('POST', '/api/v1/admin/sessions', { username: 'admin', password: TEST_ADMIN_PASSWORD, otp }, null),
      ),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 401)).toHaveLength(9);
  });

  it('the per-address limit holds under concurrency', async () => {
    const results = await Promise.all(
      Array.from({ length: LOGIN_LIMITS.perAddress + 10 }, (_, i) =>
        h.http('POST', '/api/v1/admin/sessions', { username: `nobody${i}`, password: 'x', otp: '000000' }, null),
      ),
    );
    // The bootstrap sign-in already used one attempt from this address.
    expect(results.filter((r) => r.status === 401)).toHaveLength(LOGIN_LIMITS.perAddress - 1);
    expect(results.filter((r) => r.status === 429)).toHaveLength(11);
  });

  it('rate-limits attempts per admin and lifts the limit after the window', async () => {
    let last = 0;
    let body: { error?: string; retryAfterSeconds?: number } = {};
    for (let i = 0; i <= LOGIN_LIMITS.perAdminAddress; i++) {
      const r = await h.http(
        'POST',
        '/api/v1/admin/sessions',
        { username: 'admin', password: 'not the password', otp: '000000' },
        null,
      );
      last = r.status;
      body = r.body;
    }
    expect(last).toBe(429);
    expect(body.error).toBe('rate_limited');
    expect(body.retryAfterSeconds).toBeGreaterThan(0);
    // Even the right credentials are refused while limited.
    const right = await h.http(
      'POST',
      '/api/v1/admin/sessions',
      { username: 'admin', password: TEST_ADMIN_PASSWORD, otp: nextTotp(server, h.adminTotpSecret) },
      null,
    );
    expect(right.status).toBe(429);
    server.clock.advance(LOGIN_LIMITS.windowMs);
    const later = await h.http(
      'POST',
      '/api/v1/admin/sessions',
      { username: 'admin', password: TEST_ADMIN_PASSWORD, otp: nextTotp(server, h.adminTotpSecret) },
      null,
    );
    expect(later.status).toBe(200);
  });

  it('a session older than 15 minutes since MFA needs a step-up, and the step-up restores it', async () => {
    server.clock.advance(16 * 60 * 1000);
    const refused = await h.http('PATCH', '/api/v1/admin/settings', { settings: { temporaryCodesEnabled: true } });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe('step_up_required');
    const bad = await h.http('POST', '/api/v1/admin/sessions/step-up', { otp: '000000' });
    expect(bad.status).toBe(401);
    const up = await h.http('POST', '/api/v1/admin/sessions/step-up', { otp: nextTotp(server, h.adminTotpSecret) });
    expect(up.status).toBe(200);
    const again = await h.http('PATCH', '/api/v1/admin/settings', { settings: { temporaryCodesEnabled: true } });
    expect(again.status).toBe(200);
  });

  it('bearer sessions end after 30 idle minutes and on sign-out', async () => {
    server.clock.advance(31 * 60 * 1000);
    expect((await h.http('GET', '/api/v1/admin/sessions/current')).status).toBe(401);
    const token = await loginAdmin(h, 'admin', TEST_ADMIN_PASSWORD, h.adminTotpSecret);
    expect((await h.http('DELETE', '/api/v1/admin/sessions', undefined, token)).status).toBe(200);
    expect((await h.http('GET', '/api/v1/admin/sessions/current', undefined, token)).status).toBe(401);
  });

  it('a bearer session ends 8 hours after sign-in however busy it is; expired sessions are pruned a day later', async () => {
    const { SESSION_ABSOLUTE_MS } = await import('../../../src-server/services/sessions.js');
    const { pruneExpired } = await import('../../../src-server/services/housekeeping.js');
    const start = server.clock.now();
    while (server.clock.now() + 20 * 60 * 1000 < start + SESSION_ABSOLUTE_MS) {
      server.clock.advance(20 * 60 * 1000);
      expect((await h.http('GET', '/api/v1/admin/sessions/current')).status).toBe(200);
    }
    server.clock.set(start + SESSION_ABSOLUTE_MS);
    expect((await h.http('GET', '/api/v1/admin/sessions/current')).status).toBe(401);
    expect((await pruneExpired(server.ctx)).sessions).toBe(0);
    server.clock.advance(24 * 60 * 60 * 1000 + 1);
    expect((await pruneExpired(server.ctx)).sessions).toBe(1);
  });

  it('a helpdesk admin gets 403 on settings and cannot issue what it does not hold', async () => {
    const helpdesk = await createAdminAndLogin(h, 'hd1', ['helpdesk']);
    const get = await h.http('GET', '/api/v1/admin/settings', undefined, helpdesk.token);
    expect(get.status).toBe(403);
    expect(get.body.error).toBe('forbidden');
    const patch = await h.http(
      'PATCH',
      '/api/v1/admin/settings',
      { settings: { temporaryCodesEnabled: true } },
      helpdesk.token,
    );
    expect(patch.status).toBe(403);
  });
});
