import { afterAll, beforeAll, expect, it } from 'vitest';
import { normalizeCode } from '../../../src-shared/codes.js';
import { hashCode } from '../../../src-server/services/code-hash.js';
import { describePg } from '../../helpers/engines.js';
import { TestDevice } from '../devices/test-device.js';
import { PIN, startDeployment, type Deployment } from './deployment.js';

const MIXED_OPS = Number(process.env.LIFELINE_PG_MIXED_OPS ?? 10_000);

/**
 * docs/design.md §4 across instances: two servers on one PostgreSQL, requests spread over both, every guarantee held by
 * guarded statements and unique indexes under READ COMMITTED.
 */
describePg('two instances on one PostgreSQL', () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await startDeployment(2);
  });
  afterAll(async () => d?.close());

  it('answers readiness on both instances', async () => {
    for (const s of d.instances) expect((await fetch(`${s.url}/readyz`)).status).toBe(200);
  });

  it('lets exactly one of 200 concurrent verifications of one single-use code succeed', async () => {
    const { username } = await d.userWithToken('race-temp');
    const issued = await d.admin.http('POST', `/api/v1/admin/users/${username}/temporary-code`, {
      expiresInMinutes: 60,
      multiUse: false,
    });
    expect(issued.status).toBe(201);
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        d.verifyOn(i, { username, code: issued.body.code, pin: PIN, purpose: 'logon' }),
      ),
    );
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    expect(ok[0]!.body).toEqual({ ok: true, method: 'temporary' });
    expect(results.every((r) => [200, 401, 423, 429].includes(r.status))).toBe(true);
    const used = await d.first.ctx.db.all(
      'SELECT used_at FROM temporary_codes WHERE user_id = (SELECT id FROM users WHERE username = ?) AND used_at IS NOT NULL',
      [username],
    );
    expect(used).toHaveLength(1);
    const successes = await d.first.ctx.db.all(
      "SELECT id FROM audit WHERE subject = ? AND type LIKE 'verify%' AND outcome = 'success'",
      [username],
    );
    expect(successes).toHaveLength(1);
  });

  it('accepts one token code once when 100 verifications race on both instances', async () => {
    const { username, totpSecret } = await d.userWithToken('race-token');
    d.nextStep();
    const code = d.tokenCode(totpSecret);
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => d.verifyOn(i, { username, code, pin: PIN, purpose: 'logon' })),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    const successes = await d.first.ctx.db.all(
      "SELECT id FROM audit WHERE subject = ? AND type LIKE 'verify%' AND outcome = 'success'",
      [username],
    );
    expect(successes).toHaveLength(1);
  });

  it('locks after 3 failures split across the instances', async () => {
    const { username, totpSecret } = await d.userWithToken('split-failures');
    d.nextStep();
    for (let i = 0; i < 3; i++) {
      const r = await d.verifyOn(i, { username, code: '000000', pin: PIN, purpose: 'logon' });
      expect(r.status).toBe(401);
    }
    // The right code, on the other instance, is refused: the lock holds everywhere.
    const right = await d.verifyOn(1, { username, code: d.tokenCode(totpSecret), pin: PIN, purpose: 'logon' });
    expect(right.status).toBe(423);
    expect(right.body.error).toBe('locked');
    const other = await d.verifyOn(0, { username, code: d.tokenCode(totpSecret), pin: PIN, purpose: 'logon' });
    expect(other.status).toBe(423);
  });

  it('lets exactly one of 60 racing verifications of one emergency code succeed', async () => {
    const { username } = await d.userWithToken('race-emergency');
    const set = await d.admin.http('POST', `/api/v1/admin/users/${username}/emergency-codes`, { count: 3 });
    expect(set.status).toBe(201);
    const code = set.body.codes[0] as string;
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => d.verifyOn(i, { username, code, pin: PIN, purpose: 'logon' })),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    const used = await d.first.ctx.db.get<{ n: number }>(
      'SELECT COUNT(*) AS n FROM emergency_codes c JOIN emergency_sets s ON s.id = c.set_id JOIN users u ON u.id = s.user_id WHERE u.username = ? AND c.used_at IS NOT NULL',
      [username],
    );
    expect(used).toEqual({ n: 1 });
  });

  it('keeps the 6-per-hour limit and one active code per user when issues race on both instances', async () => {
    const { username } = await d.userWithToken('race-issue');
    const issue = (i: number) =>
      fetch(`${d.instances[i % 2]!.url}/api/v1/admin/users/${username}/temporary-code`, {
        method: 'POST',
        headers: { authorization: `Bearer ${d.admin.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ expiresInMinutes: 60, multiUse: true }),
      }).then(async (r) => ({ status: r.status, body: await r.json() }));
    const results = await Promise.all(Array.from({ length: 14 }, (_, i) => issue(i)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(6);
    expect(results.filter((r) => r.status === 429)).toHaveLength(8);
    const active = await d.first.ctx.db.all<{ code_hash: Buffer; code_salt: Buffer }>(
      'SELECT t.code_hash, u.code_salt FROM temporary_codes t JOIN users u ON u.id = t.user_id WHERE u.username = ? AND t.revoked_at IS NULL AND t.used_at IS NULL',
      [username],
    );
    expect(active).toHaveLength(1);
    // It is the code one of the successful issues returned (each issue replaced the one before it).
    const issued = results.filter((r) => r.status === 201).map((r) => normalizeCode(r.body.code as string));
    const hashes = await Promise.all(issued.map((c) => hashCode(d.first.ctx, active[0]!.code_salt, c)));
    expect(hashes.filter((h) => h.equals(active[0]!.code_hash))).toHaveLength(1);
  });

  it('answers 409, never 500, when two instances create the same user at once (the unique index decides)', async () => {
    const create = (i: number) =>
      fetch(`${d.instances[i % 2]!.url}/api/v1/admin/users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${d.admin.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'same-name' }),
      }).then(async (r) => ({ status: r.status, body: await r.json() }));
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => create(i)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409).map((r) => r.body.error)).toEqual(Array(7).fill('conflict'));
  });

  it(
    `keeps one audit chain after ${MIXED_OPS} mixed operations spread over both instances`,
    { timeout: 600_000 },
    async () => {
      // Successful and failing verifications, verifications of a locked user and of an unknown one, admin changes and
      // device syncs, all at once on both instances: each appends audit rows from its own transactions.
      const succeed = await Promise.all(
        [0, 1, 2, 3].map(async (i) => {
          const { username } = await d.userWithToken(`mix-ok-${i}`);
          const issued = await d.admin.http('POST', `/api/v1/admin/users/${username}/temporary-code`, {
            expiresInMinutes: 600,
            multiUse: true,
          });
          return { username, code: issued.body.code as string };
        }),
      );
      const locked = await Promise.all([0, 1, 2].map(async (i) => (await d.userWithToken(`mix-locked-${i}`)).username));
      const secret = (await d.admin.http('GET', '/api/v1/admin/devices/enrollment-secret')).body
        .enrollmentSecret as string;
      const devices = await Promise.all(
        Array.from({ length: 16 }, async (_, i) => {
          const dev = new TestDevice(d.instances[i % 2]!, `ws-mix-${i}`);
          expect((await dev.enroll(secret)).status).toBe(200);
          expect((await d.admin.http('POST', `/api/v1/admin/devices/${dev.deviceId}/approve`)).status).toBe(200);
          return dev;
        }),
      );
      // Each device holds mix-ok-0's cached temporary code (a login with it), so its reports for that user count: a
      // device may report only for users it was given. One at a time, as one person signs in at one desk at a time.
      for (const dev of devices)
        expect((await dev.login(succeed[0]!.username, PIN, succeed[0]!.code)).status).toBe(200);
      const before = (await d.first.ctx.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM audit'))!.n;
      const admin = (i: number, method: string, path: string, body: unknown) =>
        fetch(`${d.instances[i % 2]!.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${d.admin.adminToken}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });

      const statuses = new Map<string, number>();
      const count = (kind: string, status: number) =>
        statuses.set(`${kind} ${status}`, (statuses.get(`${kind} ${status}`) ?? 0) + 1);
      const t0 = Date.now();
      const operation = async (i: number): Promise<unknown> => {
        const slot = i % 40;
        if (slot < 2) {
          const u = succeed[i % succeed.length]!;
          return count(
            'verify-ok',
            (await d.verifyOn(i, { username: u.username, code: u.code, pin: PIN, purpose: 'logon' })).status,
          );
        }
        if (slot < 10)
          return count(
            'verify-locked',
            (await d.verifyOn(i, { username: locked[i % locked.length]!, code: '000000', pin: PIN, purpose: 'logon' }))
              .status,
          );
        if (slot === 10)
          return count(
            'verify-unknown',
            (await d.verifyOn(i, { username: `nobody-${i}`, code: '000000', pin: PIN, purpose: 'logon' })).status,
          );
        if (slot < 14)
          return count(
            'user-create',
            (await admin(i, 'POST', '/api/v1/admin/users', { username: `mix-new-${i}` })).status,
          );
        return count(
          'user-update',
          (
            await admin(i, 'PATCH', `/api/v1/admin/users/${succeed[i % succeed.length]!.username}`, {
              displayName: `Name ${i}`,
            })
          ).status,
        );
      };
      const syncOps: number[][] = devices.map(() => []);
      const otherOps: number[] = [];
      for (let i = 0; i < MIXED_OPS; i++) (i % 40 >= 20 ? syncOps[i % devices.length]! : otherOps).push(i);
      let ackedEvents = 0;
      const deviceLoop = async (dev: TestDevice, ops: number[]) => {
        for (const i of ops) {
          dev.server = d.instances[i % 2]!; // an agent's requests land on whichever instance the load balancer picks
          const r = await dev.sync(
            [0, 1].map(() =>
              dev.event({
                at: d.first.clock.now(),
                type: 'offline-failure',
                username: 'mix-ok-0',
                reason: 'invalid_code',
              }),
            ),
          );
          count('sync', r.status);
          if (r.status === 200) ackedEvents += (r.body.ack.payload.acknowledged as string[]).length;
        }
      };
      let next = 0;
      const worker = async () => {
        while (next < otherOps.length) await operation(otherOps[next++]!);
      };
      await Promise.all([
        ...devices.map((dev, k) => deviceLoop(dev, syncOps[k]!)),
        ...Array.from({ length: 12 }, worker),
      ]);

      const summary = Object.fromEntries([...statuses].sort());
      console.log(`[mixed] ${MIXED_OPS} operations in ${Date.now() - t0} ms: ${JSON.stringify(summary)}`);
      expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(MIXED_OPS);
      for (const key of statuses.keys())
        expect(key).toMatch(
          /^(verify-ok 200|verify-locked (401|423|429)|verify-unknown 401|user-create 201|user-update 200|sync 200)$/,
        );
      expect(ackedEvents).toBe(2 * syncOps.flat().length);

      const t1 = Date.now();
      const report = await d.auditChain();
      console.log(`[mixed] sealed and verified ${report.rows} audit rows in ${Date.now() - t1} ms`);
      expect(report.problems).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.rows - before).toBeGreaterThanOrEqual(MIXED_OPS);
      const events = await d.first.ctx.db.get<{ n: number; distinct: number }>(
        "SELECT COUNT(*) AS n, COUNT(DISTINCT details::json->>'eventId') AS distinct FROM audit WHERE type = 'device.offline-failure'",
      );
      expect(events).toEqual({ n: ackedEvents, distinct: ackedEvents });
    },
  );
});
