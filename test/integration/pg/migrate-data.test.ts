import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { migrateData, migrateDataCommand } from '../../../src-server/cli/migrate-data.js';
import { PgDb } from '../../../src-server/db/postgres.js';
import { createLogger } from '../../../src-server/logger.js';
import { verifyAudit, writeCheckpoint } from '../../../src-server/services/audit-checkpoint.js';
import { waitUntilAuditSealed } from '../../../src-server/services/audit-sealer.js';
import {
  bootstrap,
  createUser,
  enableTemporaryCodes,
  loginAdmin,
  TEST_ADMIN_PASSWORD,
  type Http,
} from '../../helpers/admin.js';
import { createTestDatabase, describePg } from '../../helpers/engines.js';
import { oathtool } from '../../helpers/oathtool.js';
import { startTestServer } from '../../helpers/server.js';
import { tempDir } from '../../helpers/tmp.js';

const log = createLogger({
  level: 'silent',
  destination: new Writable({
    write(_c, _e, cb) {
      cb();
    },
  }),
});
const PIN = 'Mig-pin-2026';

describePg('migrate-data: an embedded deployment moves to PostgreSQL', () => {
  const dir = tempDir('lifeline-migrate-');
  afterAll(() => dir.cleanup());

  it('copies every table, keeps the audit chain and checkpoints valid, and the moved deployment keeps working', async () => {
    // An embedded deployment with some history: admin, users with tokens and PINs, codes, verifications, a client.
    const lite = await startTestServer({ engine: 'sqlite', dataDir: dir.dir });
    const h = await bootstrap(lite);
    await enableTemporaryCodes(h);
    const alice = await createUser(h, 'alice', { pin: PIN, withToken: true });
    await createUser(h, 'bob', { pin: PIN });
    expect(
      (await h.http('POST', '/api/v1/admin/users/bob/temporary-code', { expiresInMinutes: 600, multiUse: true }))
        .status,
    ).toBe(201);
    expect((await h.http('POST', '/api/v1/admin/users/bob/emergency-codes', { count: 5 })).status).toBe(201);
    const client = await h.http('POST', '/api/v1/admin/clients', { name: 'vpn' });
    const verify = (url: string, body: object) =>
      fetch(`${url}/api/v1/verify`, {
        method: 'POST',
        headers: { authorization: `Bearer ${client.body.key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect(
      (
        await verify(lite.url, {
          username: 'alice',
          code: oathtool(alice.totpSecret!, lite.clock.now()),
          pin: PIN,
          purpose: 'logon',
        })
      ).status,
    ).toBe(200);
    expect((await verify(lite.url, { username: 'alice', code: '123456', pin: PIN, purpose: 'logon' })).status).toBe(
      401,
    );
    await writeCheckpoint(lite.ctx);
    const clockAfter = lite.clock.now();
    await lite.close();

    const database = await createTestDatabase();
    try {
      const result = await migrateData({ from: dir.dir, to: database.url, log });
      expect(result.problems).toEqual([]);
      expect(result.ok).toBe(true);
      const byName = Object.fromEntries(result.tables.map((t) => [t.name, t]));
      expect(byName.users).toEqual({ name: 'users', source: 2, target: 2 });
      expect(byName.emergency_codes!.target).toBe(5);
      expect(byName.audit!.target).toBeGreaterThan(8);
      expect(result.tables.every((t) => t.source === t.target)).toBe(true);

      // Run the same command again: the target is in use now, so it is refused.
      const out: string[] = [];
      await expect(migrateDataCommand({ from: dir.dir, to: database.url, log }, (s) => out.push(s))).rejects.toThrow(
        /in use/,
      );

      // An instance on PostgreSQL with the deployment's key file: tokens, PINs and admin TOTP still decrypt and verify.
      const keyFile = path.join(dir.dir, 'lifeline.key');
      const pgServer = await startTestServer({ join: { databaseUrl: database.url, keyFile } });
      try {
        pgServer.clock.set(clockAfter + 60_000);
        const pgHttp = httpTo(pgServer.url);
        const token = await loginAdmin(
          { server: pgServer, http: pgHttp },
          'admin',
          TEST_ADMIN_PASSWORD,
          h.adminTotpSecret,
        );
        expect(
          (
            await verify(pgServer.url, {
              username: 'alice',
              code: oathtool(alice.totpSecret!, pgServer.clock.now()),
              pin: PIN,
              purpose: 'logon',
            })
          ).status,
        ).toBe(200);
        // New rows are sealed after the migrated ones: one chain, still matching the SQLite deployment's checkpoint.
        await waitUntilAuditSealed(pgServer.ctx.db as PgDb, log);
        const report = await verifyAudit(pgServer.ctx.db, pgServer.ctx.audit, pgServer.ctx.keys.auditKeys, dir.dir);
        expect(report.problems).toEqual([]);
        expect(report).toMatchObject({ ok: true, checkpoints: 1 });
        expect(report.rows).toBeGreaterThan(byName.audit!.target);
        // Ids continue after the copied ones.
        expect((await pgHttp('POST', '/api/v1/admin/users', { username: 'carol' }, token)).status).toBe(201);
        expect(await pgServer.ctx.db.get("SELECT id FROM users WHERE username = 'carol'")).toEqual({ id: 3 });
      } finally {
        await pgServer.close();
      }
    } finally {
      await database.drop();
    }
  });
});

/** Plain JSON over HTTP to the migrated deployment, which answers at a new address. */
function httpTo(base: string): Http {
  return async (method, p, body, token) => {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(base + p, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  };
}

describe('lifeline-server migrate-data on the command line', () => {
  const run = (args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src-server/main.ts', ...args], {
      cwd: path.resolve(import.meta.dirname, '../../..'),
      encoding: 'utf8',
    });

  it('needs both --from and --to, and says what is missing in the source folder', () => {
    const usage = run(['migrate-data', '--from', '/nonexistent']);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('usage: migrate-data --from DIR --to postgres://');
    const missing = run([
      'migrate-data',
      '--from',
      '/nonexistent-lifeline-dir',
      '--to',
      'postgres://u:pw@127.0.0.1:1/db',
    ]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('no embedded database at /nonexistent-lifeline-dir/lifeline.sqlite');
    expect(run(['--from', '/x']).status).toBe(2); // --from/--to belong to migrate-data only
  });
});
