import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY } from '../../../src-shared/policy.js';
import {
  createAdminAndLogin,
  createUser,
  nextTotp,
  startAdminServer,
  TEST_ADMIN_PASSWORD,
  type AdminHarness,
} from '../../helpers/admin.js';
import type { TestServer } from '../../helpers/server.js';
import { useHarness } from '../../helpers/hooks.js';

let server: TestServer;
let h: AdminHarness;
useHarness('each', startAdminServer, (started) => {
  h = started;
  server = started.server;
});

describe('settings and policies', () => {
  it('start with docs/design.md §3 defaults: temporary codes off, one default policy', async () => {
    const res = await h.http('GET', '/api/v1/admin/settings');
    expect(res.status).toBe(200);
    expect(res.body.settings).toEqual({
      temporaryCodesEnabled: false,
      offlineEnabled: true,
      emergencyCodesEnabled: true,
    });
    expect(res.body.policies).toEqual([{ name: 'default', isDefault: true, users: 0, policy: DEFAULT_POLICY }]);
  });

  it('enabling temporary codes is audited; policies are created by partial patch, validated whole, and deleted only when unused', async () => {
    const on = await h.http('PATCH', '/api/v1/admin/settings', { settings: { temporaryCodesEnabled: true } });
    expect(on.body.settings.temporaryCodesEnabled).toBe(true);
    const audit = await h.http('GET', '/api/v1/admin/audit?type=settings.changed');
    expect(audit.body.events[0].details).toEqual({ temporaryCodesEnabled: true });

    const created = await h.http('PATCH', '/api/v1/admin/settings', {
      policies: {
        contractors: {
          enrollmentAllowed: false,
          temporaryCodes: { pinRequired: false },
          offline: { allowed: false },
          pin: { required: false },
        },
      },
    });
    expect(created.status).toBe(200);
    const contractors = created.body.policies.find((p: { name: string }) => p.name === 'contractors').policy;
    expect(contractors.enrollmentAllowed).toBe(false);
    expect(contractors.temporaryCodes.pinRequired).toBe(false);
    expect(contractors.temporaryCodes.maxLifetimeMinutes).toBe(DEFAULT_POLICY.temporaryCodes.maxLifetimeMinutes); // merged with defaults
    // Offline access needs a PIN: the merged policy is checked as a whole.
    const invalid = await h.http('PATCH', '/api/v1/admin/settings', {
      policies: { contractors: { offline: { allowed: true } } },
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body.details[0].path).toContain('pin');
    const tweak = await h.http('PATCH', '/api/v1/admin/settings', {
      policies: { default: { lockout: { maxFailures: 5 } } },
    });
    expect(tweak.body.policies[0].policy.lockout).toEqual({ maxFailures: 5, lockMinutes: 15, maxLockPeriods: 10 });

    await createUser(h, 'lee', { policy: 'contractors' });
    const busy = await h.http('PATCH', '/api/v1/admin/settings', { policies: { contractors: null } });
    expect(busy.status).toBe(409);
    await h.http('PATCH', '/api/v1/admin/users/lee', { policy: 'default' });
    const gone = await h.http('PATCH', '/api/v1/admin/settings', { policies: { contractors: null } });
    expect(gone.status).toBe(200);
    expect(gone.body.policies.map((p: { name: string }) => p.name)).toEqual(['default']);
  });
});

describe('roles and admins', () => {
  it('built-in roles: only a superadmin holds codes.issue and settings.manage out of the box', async () => {
    const res = await h.http('GET', '/api/v1/admin/roles');
    const byName = Object.fromEntries(
      res.body.roles.map((r: { name: string; permissions: string[] }) => [r.name, r.permissions]),
    );
    expect(byName.superadmin).toEqual(['*']);
    expect(byName.helpdesk).not.toContain('codes.issue');
    expect(byName.helpdesk).not.toContain('settings.manage');
    expect(byName.auditor).toEqual(['audit.read']);
    const hd = await createAdminAndLogin(h, 'hd', ['helpdesk']);
    expect((await h.http('GET', '/api/v1/admin/sessions/current', undefined, hd.token)).body.permissions).not.toContain(
      'codes.issue',
    );
    // Granting codes.issue to the helpdesk role takes effect for its admins.
    expect(
      (await h.http('PATCH', '/api/v1/admin/roles/helpdesk', { permissions: [...byName.helpdesk, 'codes.issue'] }))
        .status,
    ).toBe(200);
    expect((await h.http('GET', '/api/v1/admin/sessions/current', undefined, hd.token)).body.permissions).toContain(
      'codes.issue',
    );
    expect((await h.http('PATCH', '/api/v1/admin/roles/superadmin', { permissions: [] })).status).toBe(409);
    expect((await h.http('DELETE', '/api/v1/admin/roles/helpdesk')).status).toBe(409);
  });

  it('no one grants more than it holds', async () => {
    expect(
      (await h.http('POST', '/api/v1/admin/roles', { name: 'rolemgr', permissions: ['roles.manage', 'users.manage'] }))
        .status,
    ).toBe(201);
    const mgr = await createAdminAndLogin(h, 'mgr', ['rolemgr']);
    const escalate = await h.http(
      'POST',
      '/api/v1/admin/roles',
      { name: 'sneaky', permissions: ['settings.manage'] },
      mgr.token,
    );
    expect(escalate.status).toBe(403);
    expect(
      (
        await h.http(
          'POST',
          '/api/v1/admin/admins',
          { username: 'evil', password: 'long enough password', roles: ['superadmin'] },
          mgr.token,
        )
      ).status,
    ).toBe(403);
    expect(
      (
        await h.http(
          'POST',
          '/api/v1/admin/admins',
          { username: 'evil', password: 'long enough password', roles: ['helpdesk'] },
          mgr.token,
        )
      ).status,
    ).toBe(403);
    expect((await h.http('PATCH', '/api/v1/admin/admins/mgr', { roles: ['superadmin'] }, mgr.token)).status).toBe(403);
    const fine = await h.http(
      'POST',
      '/api/v1/admin/roles',
      { name: 'useronly', permissions: ['users.manage'] },
      mgr.token,
    );
    expect(fine.status).toBe(201);
    expect(
      (
        await h.http(
          'POST',
          '/api/v1/admin/admins',
          { username: 'newbie', password: 'long enough password', roles: ['useronly'] },
          mgr.token,
        )
      ).status,
    ).toBe(201);
    const list = await h.http('GET', '/api/v1/admin/admins');
    expect(list.body.admins.map((a: { username: string }) => a.username)).toEqual(['admin', 'mgr', 'newbie']);
  });

  it('disabling an admin ends its sessions; the last superadmin and oneself are kept', async () => {
    const hd = await createAdminAndLogin(h, 'hd2', ['helpdesk']);
    expect((await h.http('PATCH', '/api/v1/admin/admins/hd2', { status: 'disabled' })).status).toBe(200);
    expect((await h.http('GET', '/api/v1/admin/sessions/current', undefined, hd.token)).status).toBe(401);
    const relogin = await h.http(
      'POST',
      '/api/v1/admin/sessions',
      { username: 'hd2', password: hd.password, otp: nextTotp(server, hd.totpSecret) },
      null,
    );
    expect(relogin.status).toBe(401);
    expect((await h.http('PATCH', '/api/v1/admin/admins/admin', { status: 'disabled' })).status).toBe(409);
    expect((await h.http('PATCH', '/api/v1/admin/admins/admin', { roles: ['auditor'] })).status).toBe(409);
  });

  it('deleting an admin ends its sessions and keeps its audit trail; oneself cannot be deleted', async () => {
    const aud = await createAdminAndLogin(h, 'aud2', ['auditor']);
    expect((await h.http('DELETE', '/api/v1/admin/admins/aud2')).status).toBe(200);
    expect((await h.http('GET', '/api/v1/admin/sessions/current', undefined, aud.token)).status).toBe(401);
    expect((await h.http('DELETE', '/api/v1/admin/admins/aud2')).status).toBe(404);
    expect((await h.http('DELETE', '/api/v1/admin/admins/admin')).status).toBe(409);
    const trail = await h.http('GET', '/api/v1/admin/audit?actor=aud2');
    expect(trail.body.events.some((e: { type: string }) => e.type === 'admin.login')).toBe(true);
  });

  it('creating an admin needs high assurance', async () => {
    server.clock.advance(15 * 60 * 1000 + 1);
    const res = await h.http('POST', '/api/v1/admin/admins', {
      username: 'late',
      password: 'long enough password',
      roles: ['auditor'],
    });
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('step_up_required');
  });
});

describe('console cookie sessions', () => {
  async function consoleLogin() {
    const res = await fetch(`${server.url}/api/v1/admin/console-sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        username: 'admin',
        password: TEST_ADMIN_PASSWORD,
        otp: nextTotp(server, h.adminTotpSecret),
      }),
    });
    expect(res.status).toBe(200);
    const setCookie = res.headers.get('set-cookie')!;
    const body = (await res.json()) as { csrfToken: string; permissions: string[] };
    return { setCookie, cookie: setCookie.split(';')[0]!, csrf: body.csrfToken, permissions: body.permissions };
  }

  it('sets an httpOnly SameSite=Strict cookie and demands the CSRF token on changes', async () => {
    const s = await consoleLogin();
    expect(s.setCookie).toMatch(/^lifeline_session=/);
    expect(s.setCookie).toMatch(/HttpOnly/i);
    expect(s.setCookie).toMatch(/SameSite=Strict/i);
    expect(s.setCookie).not.toMatch(/Secure/i); // plain HTTP on loopback; over TLS the flag is set
    expect(s.permissions).toContain('settings.manage');
    const get = await fetch(`${server.url}/api/v1/admin/settings`, { headers: { cookie: s.cookie } });
    expect(get.status).toBe(200);
    const patch = (headers: Record<string, string>) =>
      fetch(`${server.url}/api/v1/admin/settings`, {
        method: 'PATCH',
        headers: { cookie: s.cookie, 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ settings: { offlineEnabled: false } }),
      });
    const noCsrf = await patch({});
    expect(noCsrf.status).toBe(403);
    expect(((await noCsrf.json()) as { error: string }).error).toBe('csrf_failed');
    expect((await patch({ 'x-csrf-token': 'forged-forged-forged' })).status).toBe(403);
    expect((await patch({ 'x-csrf-token': s.csrf })).status).toBe(200);
    // A cookie session is not a bearer token and vice versa.
    const asBearer = await fetch(`${server.url}/api/v1/admin/settings`, {
      headers: { authorization: `Bearer ${s.cookie.split('=')[1]}` },
    });
    expect(asBearer.status).toBe(401);
    const out = await fetch(`${server.url}/api/v1/admin/console-sessions`, {
      method: 'DELETE',
      headers: { cookie: s.cookie, 'x-csrf-token': s.csrf },
    });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toMatch(/lifeline_session=;/);
    expect((await fetch(`${server.url}/api/v1/admin/settings`, { headers: { cookie: s.cookie } })).status).toBe(401);
  });
});

describe('OpenAPI', () => {
  it('documents the admin routes with their schemas and security', async () => {
    const res = await h.http('GET', '/api/v1/openapi.json', undefined, null);
    expect(res.status).toBe(200);
    const paths = res.body.paths;
    for (const p of [
      '/api/v1/admin/sessions',
      '/api/v1/admin/users',
      '/api/v1/admin/users/{username}/token',
      '/api/v1/admin/settings',
      '/api/v1/admin/audit',
      '/api/v1/admin/roles',
    ]) {
      expect(paths[p], p).toBeDefined();
    }
    expect(paths['/api/v1/admin/users'].post.security).toEqual([{ adminBearer: [] }]);
    expect(paths['/api/v1/admin/users'].post.requestBody.content['application/json'].schema.additionalProperties).toBe(
      false,
    );
    expect(paths['/api/v1/admin/sessions'].post.description).toMatch(/TOTP/);
  });
});
