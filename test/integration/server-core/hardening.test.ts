import { statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAdminAndLogin, startAdminServer, stepUp, type AdminHarness } from '../../helpers/admin.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { useHarness } from '../../helpers/hooks.js';
import { tempDir } from '../../helpers/tmp.js';
import { machine, testKeychain } from '../agent/support.js';
import { appendAudit } from '../../../src-server/services/audit.js';
import { stageNextSigningKey } from '../../../src-server/keyfile.js';
import { AgentStore } from '../../../src-main/core/store/store.js';
import { STORE_FILE } from '../../../src-main/core/store/files.js';

let server: TestServer;
let h: AdminHarness;
useHarness('each', startAdminServer, (started) => {
  h = started;
  server = started.server;
});

const mode = (file: string) => statSync(file).mode & 0o777;

describe('authority over admins', () => {
  it('disabling or re-enabling an admin needs the authority to grant all of its roles', async () => {
    expect(
      (await h.http('POST', '/api/v1/admin/roles', { name: 'rolemgr', permissions: ['roles.manage'] })).status,
    ).toBe(201);
    const mgr = await createAdminAndLogin(h, 'mgr', ['rolemgr']);
    const hd = await createAdminAndLogin(h, 'hd', ['helpdesk']);
    await createAdminAndLogin(h, 'mgr2', ['rolemgr']);
    const refused = await h.http('PATCH', '/api/v1/admin/admins/hd', { status: 'disabled' }, mgr.token);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe('forbidden');
    expect((await h.http('GET', '/api/v1/admin/sessions/current', undefined, hd.token)).status).toBe(200);
    // A disabled helpdesk admin cannot be re-enabled by it either.
    expect((await h.http('PATCH', '/api/v1/admin/admins/hd', { status: 'disabled' })).status).toBe(200);
    expect((await h.http('PATCH', '/api/v1/admin/admins/hd', { status: 'active' }, mgr.token)).status).toBe(403);
    // Within its reach it may.
    expect((await h.http('PATCH', '/api/v1/admin/admins/mgr2', { status: 'disabled' }, mgr.token)).status).toBe(200);
  });
});

describe('API clients', () => {
  it('revoking an API client needs high assurance', async () => {
    const made = await h.http('POST', '/api/v1/admin/clients', { name: 'vpn-gateway-1' });
    expect(made.status).toBe(201);
    server.clock.advance(15 * 60 * 1000 + 1);
    const refused = await h.http('DELETE', `/api/v1/admin/clients/${made.body.clientId}`);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe('step_up_required');
    expect(
      (await h.http('GET', '/api/v1/admin/clients')).body.clients.map((c: { clientId: string }) => c.clientId),
    ).toContain(made.body.clientId);
    await stepUp(h);
    expect((await h.http('DELETE', `/api/v1/admin/clients/${made.body.clientId}`)).status).toBe(200);
  });
});

describe('usernames that look like an existing one', () => {
  it('a user whose name is a Cyrillic or full-width look-alike of an existing user is refused with a clear 409', async () => {
    expect((await h.http('POST', '/api/v1/admin/users', { username: 'alice' })).status).toBe(201);
    for (const lookalike of ['\u0430lice', 'ali\u0441e', '\uff41\uff4c\uff49\uff43\uff45', '\u0391LICE']) {
      const res = await h.http('POST', '/api/v1/admin/users', { username: lookalike });
      expect(res.status, lookalike).toBe(409);
      expect(res.body.error).toBe('conflict');
      expect(res.body.message).toContain('looks like the existing user "alice"');
    }
    expect((await h.http('POST', '/api/v1/admin/users', { username: 'alice2' })).status).toBe(201);
    expect((await h.http('POST', '/api/v1/admin/users', { username: 'алиса' })).status).toBe(201);
    const users = (await h.http('GET', '/api/v1/admin/users')).body.users.map((u: { username: string }) => u.username);
    expect(users.sort()).toEqual(['alice', 'alice2', 'алиса']);
  });

  it('an admin whose name is a look-alike of an existing admin is refused too', async () => {
    const res = await h.http('POST', '/api/v1/admin/admins', {
      username: '\u0430dmin',
      password: 'long enough password',
      roles: ['auditor'],
    });
    expect(res.status).toBe(409);
    expect(res.body.message).toContain('looks like the existing admin "admin"');
    expect(
      (
        await h.http('POST', '/api/v1/admin/admins', {
          username: '\uff41\uff44\uff4d\uff49\uff4e',
          password: 'long enough password',
          roles: ['auditor'],
        })
      ).status,
    ).toBe(409);
    expect(
      (await h.http('GET', '/api/v1/admin/admins')).body.admins.map((a: { username: string }) => a.username),
    ).toEqual(['admin']);
  });
});

describe('audit CSV export', () => {
  it('escapes a formula after leading spaces', async () => {
    await appendAudit(server.ctx.db, server.ctx, {
      type: 'admin.login',
      outcome: 'failure',
      actorKind: 'admin',
      actor: '  =1+1',
      reason: ' \t@SUM(A1)',
    });
    const res = await fetch(`${server.url}/api/v1/admin/console/audit.csv?type=admin.login`, {
      headers: { authorization: `Bearer ${h.adminToken}` },
    });
    expect(res.status).toBe(200);
    const row = (await res.text()).split('\r\n').find((line) => line.includes('=1+1'))!;
    expect(row).toContain(",'  =1+1,");
    expect(row).toContain(",' \t@SUM(A1),");
  });
});

describe('files holding secrets are created owner-only', () => {
  it('the SQLite database with its -wal and -shm, and the key file before and after a rotation, are mode 0600', async () => {
    const own = await startTestServer({ engine: 'sqlite' });
    try {
      for (const name of ['lifeline.sqlite', 'lifeline.sqlite-wal', 'lifeline.sqlite-shm', 'lifeline.key'])
        expect(mode(path.join(own.dataDir, name)), name).toBe(0o600);
      stageNextSigningKey(path.join(own.dataDir, 'lifeline.key'), own.clock.now());
      expect(mode(path.join(own.dataDir, 'lifeline.key'))).toBe(0o600);
    } finally {
      await own.close();
    }
  });

  it("the agent's store file with its -wal and -shm is mode 0600 (real keychain)", async () => {
    const t = tempDir('lifeline-agent-mode-');
    try {
      const store = await AgentStore.open({
        dataDir: t.dir,
        keychain: testKeychain(),
        machineId: machine('machine-a'),
        log: { info() {}, warn() {}, error() {} },
      });
      try {
        for (const suffix of ['', '-wal', '-shm'])
          expect(mode(path.join(t.dir, STORE_FILE + suffix)), suffix || 'store').toBe(0o600);
      } finally {
        store.close();
      }
    } finally {
      t.cleanup();
    }
  });
});
