import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { systemClock } from '../../../src-server/clock.js';
import { PgDb } from '../../../src-server/db/postgres.js';
import { createKeyFile, loadKeyFile } from '../../../src-server/keyfile.js';
import { createLogger } from '../../../src-server/logger.js';
import { verifyAudit } from '../../../src-server/services/audit-checkpoint.js';
import { sealedAuditLog, waitUntilAuditSealed } from '../../../src-server/services/audit-sealer.js';
import { newTotpSecret } from '../../../src-server/services/totp.js';
import type { SyncEvent } from '../../../src-shared/protocol/sync.js';
import { createTestDatabase, describePg, type TestDatabase } from '../../helpers/engines.js';
import { oathtool } from '../../helpers/oathtool.js';
import type { TestServer } from '../../helpers/server.js';
import { tempDir } from '../../helpers/tmp.js';
import { TestDevice } from '../devices/test-device.js';
import { startInstanceProcess, type InstanceProcess } from './instance-process.js';

/**
 * Two real server processes on one PostgreSQL database behind a (simulated) load balancer; one is SIGKILLed in the
 * middle of a load of verifications and device syncs. The other keeps answering, clients retry what was not
 * acknowledged on it, and afterwards every acknowledged verification and sync event is in the audit log exactly once,
 * in one intact chain.
 */
const log = createLogger({
  level: 'silent',
  destination: new Writable({
    write(_c, _e, cb) {
      cb();
    },
  }),
});
const PIN = 'Kill-pin-77';
// Each verifier worker has its own users, as each person has their own login: an attempt is counted before it is
// compared (lockout.ts), so several in flight at once for one user would count as failures until they succeed.
const WORKERS = 6;
const USERS_PER_WORKER = 2;
const USERS = WORKERS * USERS_PER_WORKER;
const DEVICES = 4;
const LOAD_MS = 8_000;
const KILL_AFTER_MS = 3_000;

async function call(
  base: string,
  method: string,
  p: string,
  body?: unknown,
  token?: string,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(base + p, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

describePg('one of two instances killed during load', () => {
  let database: TestDatabase;
  const dirs = [tempDir('lifeline-kill-a-'), tempDir('lifeline-kill-b-')];
  let survivor: InstanceProcess;
  let victim: InstanceProcess;

  beforeAll(async () => {
    database = await createTestDatabase();
    // `init` once, the same key file in both instances' data folders.
    createKeyFile(path.join(dirs[0]!.dir, 'lifeline.key'));
    copyFileSync(path.join(dirs[0]!.dir, 'lifeline.key'), path.join(dirs[1]!.dir, 'lifeline.key'));
  });
  afterAll(async () => {
    await victim?.kill('SIGKILL');
    await survivor?.kill('SIGTERM');
    await database?.drop();
    for (const d of dirs) d.cleanup();
  });

  it('keeps answering on the other instance and loses or doubles nothing acknowledged', async () => {
    const adminTotp = newTotpSecret();
    const env = { LIFELINE_ADMIN_PASSWORD: 'kill-test-admin-password-1', LIFELINE_ADMIN_TOTP_SECRET: adminTotp };
    // The victim starts first, so it holds the audit sealer when it dies: the survivor must take the sealing over.
    victim = await startInstanceProcess({ databaseUrl: database.url, dataDir: dirs[1]!.dir, env });
    survivor = await startInstanceProcess({ databaseUrl: database.url, dataDir: dirs[0]!.dir, env });
    const a = survivor.url;

    const login = await call(a, 'POST', '/api/v1/admin/sessions', {
      username: 'admin',
      password: env.LIFELINE_ADMIN_PASSWORD,
      otp: oathtool(adminTotp, Date.now()),
    });
    expect(login.status).toBe(200);
    const token = login.body.token as string;
    expect(
      (await call(a, 'PATCH', '/api/v1/admin/settings', { settings: { temporaryCodesEnabled: true } }, token)).status,
    ).toBe(200);
    const clientKey = (await call(a, 'POST', '/api/v1/admin/clients', { name: 'lb-vpn' }, token)).body.key as string;
    const codes: string[] = [];
    for (let i = 0; i < USERS; i++) {
      expect((await call(a, 'POST', '/api/v1/admin/users', { username: `load${i}` }, token)).status).toBe(201);
      expect((await call(a, 'PUT', `/api/v1/admin/users/load${i}/pin`, { pin: PIN }, token)).status).toBe(200);
      const issued = await call(
        a,
        'POST',
        `/api/v1/admin/users/load${i}/temporary-code`,
        { expiresInMinutes: 600, multiUse: true },
        token,
      );
      expect(issued.status).toBe(201);
      codes.push(issued.body.code as string);
    }
    const secret = (await call(a, 'GET', '/api/v1/admin/devices/enrollment-secret', undefined, token)).body
      .enrollmentSecret as string;
    const endpoint = (url: string) => ({ url, clock: systemClock }) as unknown as TestServer;
    const devices: TestDevice[] = [];
    for (let i = 0; i < DEVICES; i++) {
      const dev = new TestDevice(endpoint(a), `ws-load-${i}`);
      expect((await dev.enroll(secret)).status).toBe(200);
      expect((await call(a, 'POST', `/api/v1/admin/devices/${dev.deviceId}/approve`, undefined, token)).status).toBe(
        200,
      );
      // The device reports for its own user, whose cached temporary code it holds (a device may report only for
      // users it was given); not a load user, whose successful verifications are counted below.
      expect((await call(a, 'POST', '/api/v1/admin/users', { username: `desk${i}` }, token)).status).toBe(201);
      expect((await call(a, 'PUT', `/api/v1/admin/users/desk${i}/pin`, { pin: PIN }, token)).status).toBe(200);
      const deskCode = await call(
        a,
        'POST',
        `/api/v1/admin/users/desk${i}/temporary-code`,
        { expiresInMinutes: 600, multiUse: true },
        token,
      );
      expect((await dev.login(`desk${i}`, PIN, deskCode.body.code as string)).status).toBe(200);
      devices.push(dev);
    }

    // The load balancer: round-robin over the instances it believes alive; a connection error marks one dead.
    const alive = new Set([a, victim.url]);
    let rr = 0;
    const pick = () => [...alive][rr++ % alive.size]!;
    const started = Date.now();
    let killedAt = Infinity;
    const acknowledged = new Map<string, number>(); // verifications answered 200, per user
    const unknown = new Map<string, number>(); // no answer (connection cut): may or may not have happened
    const ackedEvents = new Set<string>();
    const survivorAnswersAfterKill = { ok: 0, other: 0 };
    const otherAnswers: string[] = [];
    const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
    // At least LOAD_MS, and on a slow machine until the survivor has shown it keeps answering (at most 40 s).
    const loading = () =>
      Date.now() < started + LOAD_MS || (survivorAnswersAfterKill.ok < 20 && Date.now() < started + 40_000);

    const verifier = async (w: number) => {
      for (let n = 0; loading(); n++) {
        const u = w * USERS_PER_WORKER + (n % USERS_PER_WORKER);
        const user = `load${u}`;
        const base = pick();
        try {
          const r = await fetch(`${base}/api/v1/verify`, {
            method: 'POST',
            headers: { authorization: `Bearer ${clientKey}`, 'content-type': 'application/json' },
            body: JSON.stringify({ username: user, code: codes[u], pin: PIN, purpose: 'logon' }),
          });
          const text = await r.text();
          if (r.status === 200) bump(acknowledged, user);
          if (base === a && Date.now() > killedAt) {
            survivorAnswersAfterKill[r.status === 200 ? 'ok' : 'other']++;
            if (r.status !== 200) otherAnswers.push(`${r.status} ${text}`);
          }
        } catch {
          bump(unknown, user);
          if (base !== a) alive.delete(base);
        }
      }
    };
    const syncer = async (dev: TestDevice, i: number) => {
      while (loading()) {
        const batch: SyncEvent[] = [1, 2, 3].map(() =>
          dev.event({ at: Date.now(), type: 'offline-failure', username: `desk${i}`, reason: 'invalid_code' }),
        );
        // An agent keeps events in its outbox until some instance acknowledges them.
        for (let attempt = 0; attempt < 10; attempt++) {
          const base = pick();
          dev.server = endpoint(base);
          try {
            const r = await dev.sync(batch);
            if (r.status === 200) {
              for (const id of r.body.ack.payload.acknowledged as string[]) ackedEvents.add(id);
              break;
            }
          } catch {
            if (base !== a) alive.delete(base);
          }
        }
      }
    };
    const killer = (async () => {
      await new Promise((r) => setTimeout(r, KILL_AFTER_MS));
      killedAt = Date.now();
      await victim.kill('SIGKILL');
    })();
    await Promise.all([
      ...Array.from({ length: WORKERS }, (_, w) => verifier(w)),
      ...devices.map((dev, i) => syncer(dev, i)),
      killer,
    ]);

    const sum = (m: Map<string, number>) => [...m.values()].reduce((x, y) => x + y, 0);
    console.log(
      `[kill] verifications acknowledged ${sum(acknowledged)}, cut by the kill ${sum(unknown)}; sync events acknowledged ${ackedEvents.size}; survivor answers after the kill ${survivorAnswersAfterKill.ok}`,
    );
    expect(victim.child.signalCode).toBe('SIGKILL');
    expect(survivorAnswersAfterKill.ok).toBeGreaterThanOrEqual(20);
    expect(otherAnswers).toEqual([]);
    expect((await call(a, 'GET', '/readyz')).status).toBe(200);

    const db = new PgDb(database.url);
    try {
      await waitUntilAuditSealed(db, log, 30_000);
      // Every acknowledged verification is there; beyond them only ones whose answer was lost when the victim died.
      for (let i = 0; i < USERS; i++) {
        const user = `load${i}`;
        const rows = await db.get<{ n: number }>(
          "SELECT COUNT(*) AS n FROM audit WHERE subject = ? AND type LIKE 'verify%' AND outcome = 'success'",
          [user],
        );
        expect(rows!.n, user).toBeGreaterThanOrEqual(acknowledged.get(user) ?? 0);
        expect(rows!.n, user).toBeLessThanOrEqual((acknowledged.get(user) ?? 0) + (unknown.get(user) ?? 0));
      }
      expect(sum(acknowledged)).toBeGreaterThan(50);
      // Every acknowledged sync event exactly once, and no event twice.
      const events = await db.all<{ event_id: string; n: number }>(
        "SELECT details::json->>'eventId' AS event_id, COUNT(*) AS n FROM audit WHERE type = 'device.offline-failure' GROUP BY 1",
      );
      const counted = new Map(events.map((e) => [e.event_id, e.n]));
      expect(ackedEvents.size).toBeGreaterThan(30);
      for (const id of ackedEvents) expect(counted.get(id), id).toBe(1);
      expect(events.every((e) => e.n === 1)).toBe(true);
      // One chain, sealed by the survivor after the victim (the first sealer) died.
      const keys = loadKeyFile(path.join(dirs[0]!.dir, 'lifeline.key'));
      const report = await verifyAudit(db, sealedAuditLog(db), keys.auditKeys, dirs[0]!.dir);
      expect(report.problems).toEqual([]);
      expect(report.ok).toBe(true);
    } finally {
      await db.close();
    }
  });
});
