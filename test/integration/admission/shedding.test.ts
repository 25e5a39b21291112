import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { bootstrap, createUser, type AdminHarness } from '../../helpers/admin.js';
import { forEachEngine } from '../../helpers/engines.js';
import { oathtool } from '../../helpers/oathtool.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { TestDevice } from '../devices/test-device.js';

const PIN = '482916';
const STEP = 30_000;
/**
 * One place, one waiter: small enough that a test can fill the gate on purpose. The wait is long enough that the
 * steps a test takes while a request waits fit in it on a loaded machine.
 */
const LIMITS = { maxInFlight: 1, maxWaiting: 1, maxWaitMs: 1_500 };
/** What a shed client is told: the queue's own horizon, in whole seconds. */
const RETRY_AFTER = Math.ceil(LIMITS.maxWaitMs / 1000);

/** Polls `ready` every 5 ms for up to 20 s (a request is in the gate once the server has read and checked it). */
async function until(ready: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The shed answer; `headers` are the response's (the test device's replies carry only the status and body). */
function expectShed(res: { status: number; body: unknown }, headers?: Headers): void {
  expect(res.status).toBe(503);
  expect(res.body).toMatchObject({ error: 'unavailable', retryAfterSeconds: RETRY_AFTER });
  expect((res.body as { message: string }).message).toMatch(/busy/);
  if (headers) expect(headers.get('retry-after')).toBe(String(RETRY_AFTER));
}

forEachEngine('verification admission control over real HTTP', (engine) => {
  let server: TestServer;
  let h: AdminHarness;
  let clientKey: string;
  const verify = (body: Record<string, unknown>) =>
    h.http('POST', '/api/v1/verify', { purpose: 'logon', ...body }, clientKey);
  const gate = () => server.app.admission;
  const held: (() => void)[] = [];
  /** Takes the gate's place as a long verification would; given back by the test, or after it if it failed first. */
  const takePlace = async () => {
    const release = await gate().enter();
    if (!release) throw new Error('the place is taken already');
    held.push(release);
    return release;
  };
  afterEach(() => {
    for (const release of held.splice(0)) release(); // a second call does nothing
  });
  const nextStep = () => server.clock.set((Math.floor(server.clock.now() / STEP) + 1) * STEP + 10_000);
  const attempts = (username: string) =>
    server.ctx.db.all<{ outcome: string; reason: string | null }>(
      "SELECT outcome, reason FROM audit WHERE type = 'verify.attempt' AND subject = ? ORDER BY id",
      [username],
    );
  const failures = async (username: string) =>
    Number(
      (await server.ctx.db.get<{ failures: number }>('SELECT failures FROM users WHERE username = ?', [username]))!
        .failures,
    );

  beforeAll(async () => {
    server = await startTestServer({ engine, admission: LIMITS });
    h = await bootstrap(server);
    const client = await h.http('POST', '/api/v1/admin/clients', { name: 'vpn-gateway' });
    expect(client.status).toBe(201);
    clientKey = client.body.key as string;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('a burst while the only place is taken: the one waiter is decided, the other nine get 503 unavailable with Retry-After and count nothing against the user', async () => {
    const u = await createUser(h, 'burst', { pin: PIN, withToken: true });
    nextStep();
    const before = gate().stats();
    const hold = await takePlace();
    const burst = Promise.all(
      Array.from({ length: 10 }, () => verify({ username: 'burst', code: '000000', pin: PIN })),
    );
    await until(
      () => gate().stats().shed.queueFull - before.shed.queueFull === 9 && gate().stats().waiting === 1,
      'nine are shed and one waits',
    );
    hold();
    const answers = await burst;

    const shed = answers.filter((a) => a.status === 503);
    expect(shed).toHaveLength(9);
    for (const a of shed) expectShed(a, a.headers);
    expect(answers.filter((a) => a.status === 401)).toHaveLength(1);
    // Ten wrong codes, but only the admitted one was checked: one audited failure, one failure counted. The default
    // policy locks at 3, so nine counted failures would have locked the user.
    expect(await attempts('burst')).toEqual([{ outcome: 'failure', reason: 'wrong_pin_or_code' }]);
    expect(await failures('burst')).toBe(1);
    expect(
      await verify({ username: 'burst', code: oathtool(u.totpSecret!, server.clock.now()), pin: PIN }),
    ).toMatchObject({ status: 200, body: { ok: true, method: 'token' } });
    expect(await failures('burst')).toBe(0);
  });

  it("a request that waits longer than the wait is shed right after it (not after the queue's work), and audited nowhere", async () => {
    await createUser(h, 'patient', { pin: PIN, withToken: true });
    const before = gate().stats().shed.waitedTooLong;
    const hold = await takePlace();
    const started = performance.now();
    const res = await verify({ username: 'patient', code: '000000', pin: PIN });
    const waited = performance.now() - started;
    hold();
    expectShed(res, res.headers);
    expect(waited).toBeGreaterThanOrEqual(LIMITS.maxWaitMs - 20);
    expect(waited).toBeLessThan(LIMITS.maxWaitMs + 1_500);
    expect(gate().stats().shed.waitedTooLong).toBe(before + 1);
    expect(await attempts('patient')).toEqual([]);
    expect(await failures('patient')).toBe(0);
  });

  it('a shed device login burns nothing: the same token code then logs in and returns the bundle', async () => {
    const u = await createUser(h, 'agent-user', { pin: PIN, withToken: true });
    await h.http('PATCH', '/api/v1/admin/settings', { policies: { default: { offline: { days: 1 } } } });
    const secret = (await h.http('GET', '/api/v1/admin/devices/enrollment-secret')).body.enrollmentSecret as string;
    const device = new TestDevice(server);
    expect((await device.enroll(secret)).status).toBe(200);
    expect((await h.http('POST', `/api/v1/admin/devices/${device.deviceId}/approve`)).status).toBe(200);
    nextStep();
    const code = oathtool(u.totpSecret!, server.clock.now());

    const hold = await takePlace();
    const queued = device.login('agent-user', PIN, code); // waits for the place
    await until(() => gate().stats().waiting === 1, 'the login waits');
    const shed = await device.login('agent-user', PIN, code); // the queue is full: shed at once
    expectShed(shed);
    hold();
    const first = await queued;
    expect(first.status).toBe(200);
    expect(first.body.bundle).toBeDefined();
    expect((await attempts('agent-user')).map((a) => a.outcome)).toEqual(['success']);
    // Not even the shed request's nonce was recorded: the agent may send it again as it is, or sign a fresh one.
    expect(await server.ctx.db.get('SELECT 1 AS one FROM device_nonces WHERE nonce = ?', [shed.nonce])).toBeUndefined();
    expect(await server.ctx.db.get('SELECT 1 AS one FROM device_nonces WHERE nonce = ?', [first.nonce])).toBeDefined();
  });

  it('a free-running burst of right codes: every answer is 200 or 503; each 200 audited once, each shed one untouched and accepted afterwards', async () => {
    const users = await Promise.all(
      Array.from({ length: 8 }, (_, i) => createUser(h, `free-${i}`, { pin: PIN, withToken: true })),
    );
    nextStep();
    const codes = users.map((u) => oathtool(u.totpSecret!, server.clock.now()));
    const answers = await Promise.all(users.map((u, i) => verify({ username: u.username, code: codes[i], pin: PIN })));
    expect(answers.map((a) => a.status).filter((s) => s !== 200 && s !== 503)).toEqual([]);
    expect(answers.some((a) => a.status === 200)).toBe(true);
    for (const [i, a] of answers.entries()) {
      const name = users[i]!.username;
      if (a.status === 503) {
        expectShed(a, a.headers);
        expect(await attempts(name)).toEqual([]);
        // Nothing was spent: the same code, sent again with the gate free, is accepted.
        expect((await verify({ username: name, code: codes[i], pin: PIN })).status).toBe(200);
      }
      expect(await attempts(name)).toEqual([{ outcome: 'success', reason: null }]);
    }
  });

  it('every way a request ends gives its place back: refused by a later hook, bad body, a client that leaves while waiting', async () => {
    const before = gate().stats();
    // A bad client key and a body that does not match the schema are refused before the gate: they take no place.
    expect(
      (await h.http('POST', '/api/v1/verify', { username: 'x', code: '1', purpose: 'logon' }, 'not-a-client-key'))
        .status,
    ).toBe(401);
    expect((await verify({ username: 'x', code: '123456', unknown: 1 })).status).toBe(400);
    expect(gate().stats().admitted).toBe(before.admitted);
    // Admitted and then refused: a device login answered by the handler, and its replay, refused by the nonce check
    // that runs after the gate.
    const secret = (await h.http('GET', '/api/v1/admin/devices/enrollment-secret')).body.enrollmentSecret as string;
    const device = new TestDevice(server, 'ws-places');
    expect((await device.enroll(secret)).status).toBe(200);
    const login = await device.login('x', PIN, '123456');
    expect(login.status).toBe(401);
    const body = { v: 1, username: 'x', pin: PIN, code: '123456', purpose: 'logon' };
    expect(await device.signed('/api/v1/devices/login', body, { headers: login.headers })).toMatchObject({
      status: 401,
      body: { error: 'bad_signature' },
    });
    await until(() => gate().stats().inFlight === 0, 'both places are back');

    const hold = await takePlace();
    const leaving = new AbortController();
    const abandoned = fetch(`${server.url}/api/v1/verify`, {
      method: 'POST',
      headers: { authorization: `Bearer ${clientKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'x', code: '123456', purpose: 'logon' }),
      signal: leaving.signal,
    }).catch((err: unknown) => err);
    await until(() => gate().stats().waiting === 1, 'the request waits');
    leaving.abort();
    expect(await abandoned).toBeInstanceOf(Error);
    await until(() => gate().stats().waiting === 0, 'the request left the queue');
    hold();
    expect(gate().stats()).toMatchObject({ inFlight: 0, waiting: 0, shed: before.shed, admitted: before.admitted + 3 });
  });

  it('/readyz reports the gate: limits, places in use, admitted and shed counts (no user or code in it)', async () => {
    const res = await h.http('GET', '/readyz', undefined, null);
    expect(res.status).toBe(200);
    const s = gate().stats();
    expect(res.body).toEqual({
      ok: true,
      admission: { limits: LIMITS, inFlight: 0, waiting: 0, admitted: s.admitted, shed: s.shed },
    });
    expect(s.shed.queueFull).toBeGreaterThanOrEqual(10);
    expect(s.shed.waitedTooLong).toBeGreaterThanOrEqual(1);
  });
});
