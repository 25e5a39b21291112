import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifyBundle } from '../../../src-shared/crypto/bundle.js';
import { pgOptionsFromEnv } from '../../../src-server/cli/args.js';
import { bootstrap, createUser, type AdminHarness } from '../../helpers/admin.js';
import { describePg } from '../../helpers/engines.js';
import { oathtool } from '../../helpers/oathtool.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { TestDevice } from '../devices/test-device.js';

const PIN = '482916';
const AGENTS = 30;

/**
 * A pool of 2 connections with a 30 ms acquire wait, and more device logins at once than it can serve in that
 * time: the overflow is refused with 503 + Retry-After before anything is written, and every login whose token step
 * was spent (a success in the audit) got its 200 and its bundle. Without the post-commit patience, logins failed
 * after their verification committed (audit successes > 200s).
 */
describePg('PostgreSQL under pool pressure (pool of 2, 30 ms acquire wait)', () => {
  let setup: TestServer;
  let server: TestServer;
  let h: AdminHarness;
  const agents: { username: string; totp: string; device: TestDevice }[] = [];

  beforeAll(async () => {
    // Provisioned through an instance with the default pool: on a busy machine the pressured pool would refuse the
    // set-up itself. The instance under test then joins the same deployment.
    setup = await startTestServer({ engine: 'postgres' });
    h = await bootstrap(setup);
    // One day of windows keeps each bundle cheap: the pressure is on connections, not CPU.
    expect(
      (await h.http('PATCH', '/api/v1/admin/settings', { policies: { default: { offline: { days: 1 } } } })).status,
    ).toBe(200);
    const secret = (await h.http('GET', '/api/v1/admin/devices/enrollment-secret')).body.enrollmentSecret as string;
    for (let i = 0; i < AGENTS; i++) {
      const username = `storm${i}`;
      const totp = (await createUser(h, username, { pin: PIN, withToken: true })).totpSecret!;
      const device = new TestDevice(setup, `ws-storm-${i}`);
      expect((await device.enroll(secret)).status).toBe(200);
      expect((await h.http('POST', `/api/v1/admin/devices/${device.deviceId}/approve`)).status).toBe(200);
      agents.push({ username, totp, device });
    }
    server = await startTestServer({
      join: setup.deployment!,
      clock: setup.clock,
      pg: { poolMax: 2, connectionTimeoutMs: 30 },
    });
    for (const a of agents) a.device.server = server;
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await setup?.close();
  });

  it('answers a login storm with 200 or 503 + Retry-After, never 500, and no spent code goes without its bundle', async () => {
    server.clock.advance(30_000);
    const codes = agents.map((a) => oathtool(a.totp, server.clock.now()));
    // Other traffic, for the first 1.5 s: something holds both connections for 80 ms whenever it gets them, so
    // requests at every stage (before and after their verification commits) meet a pool with nothing free.
    const hogUntil = Date.now() + 1500;
    const hog = (async () => {
      while (Date.now() < hogUntil) {
        await Promise.all([0, 1].map(() => server.ctx.db.patiently(() => server.ctx.db.tx(() => sleep(80)))));
        await sleep(40);
      }
    })();
    // Each agent retries after a 503 as a real agent would (a new signed request; its code is still unspent).
    const outcomes = await Promise.all(
      agents.map(async (a, i) => {
        const statuses: number[] = [];
        for (let attempt = 0; attempt < 200; attempt++) {
          const res = await a.device.login(a.username, PIN, codes[i]!);
          statuses.push(res.status);
          if (res.status !== 503) return { statuses, res };
          expect(res.body.error).toBe('unavailable');
          expect(res.body.retryAfterSeconds).toBeGreaterThan(0);
          await sleep(10 + Math.random() * 40);
        }
        return { statuses, res: undefined };
      }),
    );
    await hog;
    const all = outcomes.flatMap((o) => o.statuses);
    expect(all.filter((s) => s === 503).length).toBeGreaterThan(0); // the pressure was real
    expect(all.filter((s) => s !== 200 && s !== 503)).toEqual([]);
    for (const [i, o] of outcomes.entries()) {
      expect(o.res?.status).toBe(200);
      const checked = verifyBundle(o.res!.body.bundle, {
        pinned: agents[i]!.device.pinned,
        deviceId: agents[i]!.device.deviceId,
        username: agents[i]!.username,
        now: server.clock.now(),
      });
      expect(checked.ok).toBe(true);
    }
    // Every success in the audit is one of the answered logins: none committed and then failed.
    const successes = await server.ctx.db.get<{ n: number }>(
      "SELECT COUNT(*) AS n FROM audit WHERE type = 'verify.attempt' AND outcome = 'success' AND subject LIKE 'storm%'",
    );
    expect(successes?.n).toBe(AGENTS);
    console.log(
      `[pool-pressure] ${AGENTS} logins answered with ${all.filter((s) => s === 503).length} refusals (503) on the way`,
    );
  }, 120_000);

  it('a forced acquire timeout answers 503 unavailable with Retry-After, not 500', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const holders = [0, 1].map(() => server.ctx.db.tx(() => held));
    try {
      const res = await fetch(`${server.url}/api/v1/admin/settings`, {
        headers: { authorization: `Bearer ${h.adminToken}` },
      });
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      const body = (await res.json()) as { error: string; retryAfterSeconds: number };
      expect(body.error).toBe('unavailable');
      expect(body.retryAfterSeconds).toBe(Number(res.headers.get('retry-after')));
    } finally {
      release();
      await Promise.all(holders);
    }
    expect(server.logLines.some((l) => l.includes('"level":50') && l.includes('request failed'))).toBe(false);
  });

  it('LIFELINE_DB_POOL_MAX sets the pool size and refuses nonsense', () => {
    expect(pgOptionsFromEnv({ LIFELINE_DB_POOL_MAX: '25' })).toEqual({ poolMax: 25 });
    expect(pgOptionsFromEnv({})).toEqual({});
    expect(() => pgOptionsFromEnv({ LIFELINE_DB_POOL_MAX: '0' })).toThrow(/LIFELINE_DB_POOL_MAX/);
  });
});
