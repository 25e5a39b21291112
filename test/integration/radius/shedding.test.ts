import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest';
import { CODE } from '../../../src-server/radius/packet.js';
import { startRadiusServer, type RadiusServer } from '../../../src-server/radius/server.js';
import { bootstrap, createUser, enableTemporaryCodes, type AdminHarness } from '../../helpers/admin.js';
import { forEachEngine } from '../../helpers/engines.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { accessRequest, hasValidResponseAuthenticator, startTestNas, type TestNas } from './nas.js';

const PIN = '482916';
/** One place, one waiter: small enough that a test can fill the instance's gate on purpose. */
// The wait is long enough that the steps a test takes while a copy waits fit in it on a loaded machine.
const LIMITS = { maxInFlight: 1, maxWaiting: 1, maxWaitMs: 3_000 };
/** Longer than the gate's wait and a verification: a NAS that heard nothing by then hears nothing for this copy. */
const SILENCE_MS = 5_000;
/** Ample for a datagram on loopback to pass the checks before the gate (the client lookup is a database read). */
const SETTLE_MS = 200;

/**
 * The RADIUS front end and the HTTP verify routes share the instance's admission gate (services/admission.ts). The
 * place is taken by hand (`gate.enter()`), as a long verification would hold it; the NAS is the test NAS, which can
 * resend the very same bytes (identifier and Request Authenticator), as a retransmitting NAS does.
 */
forEachEngine('RADIUS under load: the instance admission gate shared with the HTTP routes', (engine) => {
  let server: TestServer;
  let h: AdminHarness;
  let radius: RadiusServer;
  let nas: TestNas;
  let secret: string;
  let apiKey: string;
  const gate = () => server.app.admission;
  const held: (() => void)[] = [];

  /** Takes the gate's only place; given back by the test, or after it if it failed first. */
  async function takePlace(): Promise<() => void> {
    const release = await gate().enter();
    if (!release) throw new Error('the place is taken already');
    held.push(release);
    return release;
  }

  async function singleUseCode(username: string): Promise<string> {
    await createUser(h, username, { pin: PIN });
    const issued = await h.http('POST', `/api/v1/admin/users/${username}/temporary-code`, {
      expiresInMinutes: 60,
      multiUse: false,
    });
    expect(issued.status).toBe(201);
    return issued.body.code as string;
  }

  async function verifications(username: string): Promise<string[]> {
    const rows = await server.ctx.db.all<{ outcome: string }>(
      "SELECT outcome FROM audit WHERE subject = ? AND type = 'verify.attempt' ORDER BY id",
      [username],
    );
    return rows.map((r) => r.outcome);
  }

  async function failures(username: string): Promise<number> {
    return Number(
      (await server.ctx.db.get<{ failures: number }>('SELECT failures FROM users WHERE username = ?', [username]))!
        .failures,
    );
  }

  /** Rows claiming this request in the shared duplicate table (radius/duplicates.ts). */
  async function claims(request: Buffer): Promise<number> {
    const row = await server.ctx.db.get<{ n: number }>(
      'SELECT COUNT(*) AS n FROM radius_requests WHERE authenticator = ?',
      [request.subarray(4, 20)],
    );
    return Number(row!.n);
  }

  beforeAll(async () => {
    server = await startTestServer({ engine, admission: LIMITS });
    h = await bootstrap(server);
    await enableTemporaryCodes(h);
    const client = await h.http('POST', '/api/v1/admin/radius-clients', {
      name: 'vpn-busy',
      addresses: ['127.0.0.1/32'],
    });
    expect(client.status).toBe(201);
    secret = client.body.secret as string;
    const api = await h.http('POST', '/api/v1/admin/clients', { name: 'web-portal' });
    expect(api.status).toBe(201);
    apiKey = api.body.key as string;
    radius = await startRadiusServer(server.ctx, { host: '127.0.0.1', port: 0, admission: gate() });
    nas = await startTestNas();
  }, 60_000);

  afterEach(() => {
    for (const release of held.splice(0)) release(); // a second call does nothing
  });

  afterAll(async () => {
    nas?.close();
    await radius?.close();
    await server?.close();
  });

  it('drops a request that gets no place within the wait silently, having claimed, counted and burned nothing; the retransmission is verified once and accepted', async () => {
    const code = await singleUseCode('ivy');
    const request = accessRequest({ identifier: 21, secret, username: 'ivy', password: PIN + code });
    const before = {
      shed: radius.stats.dropped.shed,
      duplicates: radius.stats.duplicates,
      gate: gate().stats().shed.waitedTooLong,
    };

    const hold = await takePlace();
    nas.send(request, radius.port);
    expect(await nas.answer(radius.port, SILENCE_MS)).toBeUndefined();
    expect(radius.stats.dropped.shed).toBe(before.shed + 1);
    expect(gate().stats().shed.waitedTooLong).toBe(before.gate + 1);
    expect(await claims(request)).toBe(0);
    expect(await verifications('ivy')).toEqual([]);
    expect(await failures('ivy')).toBe(0);
    // The gate's own line, at most one a second; no line per shed packet from the RADIUS side.
    expect(server.logLines.some((l) => l.includes('"component":"admission"') && l.includes('verifications shed'))).toBe(
      true,
    );

    hold();
    nas.send(request, radius.port); // the NAS's retransmission: same identifier, same Request Authenticator
    const answer = await nas.answer(radius.port);
    expect(answer?.[0]).toBe(CODE.AccessAccept);
    expect(hasValidResponseAuthenticator(answer!, request, secret)).toBe(true);
    expect(await verifications('ivy')).toEqual(['success']);
    expect(radius.stats.dropped.shed).toBe(before.shed + 1);
    expect(radius.stats.duplicates).toBe(before.duplicates); // the shed copy was forgotten: a fresh chance, not a repeat
    expect(await claims(request)).toBe(1);
  });

  it('a retransmission that arrives while the first copy waits for a place joins it (no second place, no second verification)', async () => {
    const code = await singleUseCode('jon');
    const request = accessRequest({ identifier: 22, secret, username: 'jon', password: PIN + code });
    const before = { duplicates: radius.stats.duplicates, gate: gate().stats() };

    const hold = await takePlace();
    nas.send(request, radius.port);
    await vi.waitFor(() => expect(gate().stats().waiting).toBe(1), { timeout: 20_000, interval: 5 });
    nas.send(request, radius.port);
    // Had the copy asked the gate for a place of its own, the full queue would have shed it at once.
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    expect(gate().stats().shed).toEqual(before.gate.shed);
    hold(); // within the wait: the waiting copy gets the place

    const [first, second] = [await nas.answer(radius.port), await nas.answer(radius.port)];
    expect(first?.[0]).toBe(CODE.AccessAccept);
    expect(second?.equals(first!)).toBe(true);
    expect(radius.stats.duplicates).toBe(before.duplicates + 1);
    expect(gate().stats().admitted).toBe(before.gate.admitted + 2); // the held place and the first copy's
    expect(await verifications('jon')).toEqual(['success']);
  });

  it('shares one budget with POST /api/v1/verify: an HTTP verification waiting for the place leaves RADIUS none (shed at once), and each is then decided once', async () => {
    const httpCode = await singleUseCode('kim');
    const radiusCode = await singleUseCode('lea');
    const request = accessRequest({ identifier: 23, secret, username: 'lea', password: PIN + radiusCode });
    const before = { shed: radius.stats.dropped.shed, queueFull: gate().stats().shed.queueFull };

    const hold = await takePlace();
    const overHttp = h.http(
      'POST',
      '/api/v1/verify',
      { purpose: 'logon', username: 'kim', code: httpCode, pin: PIN },
      apiKey,
    );
    await vi.waitFor(() => expect(gate().stats().waiting).toBe(1), { timeout: 20_000, interval: 5 });
    nas.send(request, radius.port);
    await vi.waitFor(() => expect(radius.stats.dropped.shed).toBe(before.shed + 1), { timeout: 20_000, interval: 5 });
    expect(gate().stats().shed.queueFull).toBe(before.queueFull + 1);
    hold();

    expect(await overHttp).toMatchObject({ status: 200, body: { ok: true } });
    expect(await nas.answer(radius.port, SETTLE_MS)).toBeUndefined(); // shed when it arrived: nothing will come
    nas.send(request, radius.port);
    expect((await nas.answer(radius.port))?.[0]).toBe(CODE.AccessAccept);
    expect(await verifications('kim')).toEqual(['success']);
    expect(await verifications('lea')).toEqual(['success']);
  });
});
