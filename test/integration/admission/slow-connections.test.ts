import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CODE } from '../../../src-server/radius/packet.js';
import { startRadiusServer, type RadiusServer } from '../../../src-server/radius/server.js';
import { defaultAdmissionLimits } from '../../../src-server/services/admission.js';
import { bootstrap, createUser, enableTemporaryCodes, type AdminHarness } from '../../helpers/admin.js';
import { forEachEngine } from '../../helpers/engines.js';
import { oathtool } from '../../helpers/oathtool.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { TestDevice } from '../devices/test-device.js';
import { accessRequest, startTestNas, type TestNas } from '../radius/nas.js';

const PIN = '482916';
const STEP = 30_000;

/** Polls `ready` every 5 ms for up to 20 s. */
async function until(ready: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * The attack: a connection that sends a gated route's headers (a JSON body of 200 bytes announced, no credentials,
 * no signature) and then one byte of that body, and nothing more. Node hands such a request to Fastify as soon as
 * its headers are in, so whatever a route does before reading the body, it does for this connection too.
 */
function slowRequest(url: string, path: string, opened: Socket[]): Socket {
  const { port } = new URL(url);
  const socket = connect(Number(port), '127.0.0.1');
  socket.on('error', () => undefined); // the server may close it; that is the point of the second test
  socket.write(
    `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n{`,
  );
  opened.push(socket);
  return socket;
}

/** What the server sent on `socket` until it closed it, and when (ms after `since`). */
function closedBy(socket: Socket, since: number): Promise<{ text: string; afterMs: number }> {
  let text = '';
  socket.on('data', (chunk) => (text += String(chunk)));
  return new Promise((resolve) => socket.once('close', () => resolve({ text, afterMs: performance.now() - since })));
}

forEachEngine('slow and silent connections cannot starve verification', (engine) => {
  let server: TestServer;
  let h: AdminHarness;
  let clientKey: string;
  let radius: RadiusServer;
  let nas: TestNas;
  let radiusSecret: string;
  const opened: Socket[] = [];
  /** Requests whose headers the server has received (Node's 'request' event), the slow ones included. */
  let requestsReceived = 0;
  const gate = () => server.app.admission;
  const nextStep = () => server.clock.set((Math.floor(server.clock.now() / STEP) + 1) * STEP + 10_000);

  beforeAll(async () => {
    // The production defaults: 8 places (or fewer, as many as the database has connections), 32 waiting, 1 s.
    server = await startTestServer({ engine, admission: defaultAdmissionLimits() });
    server.app.server.on('request', () => requestsReceived++);
    h = await bootstrap(server);
    await enableTemporaryCodes(h);
    const client = await h.http('POST', '/api/v1/admin/clients', { name: 'vpn-gateway' });
    expect(client.status).toBe(201);
    clientKey = client.body.key as string;
    const nasClient = await h.http('POST', '/api/v1/admin/radius-clients', {
      name: 'vpn-radius',
      addresses: ['127.0.0.1/32'],
    });
    expect(nasClient.status).toBe(201);
    radiusSecret = nasClient.body.secret as string;
    radius = await startRadiusServer(server.ctx, { host: '127.0.0.1', port: 0, admission: gate() });
    nas = await startTestNas();
  }, 60_000);
  afterEach(() => {
    for (const s of opened.splice(0)) s.destroy();
  });
  afterAll(async () => {
    nas?.close();
    await radius?.close();
    await server?.close();
  });

  it('connections that send headers and one body byte without credentials hold no place: verify, a device login and RADIUS are answered meanwhile', async () => {
    const { limits } = gate().stats();
    const before = gate().stats();
    // More slow requests than places and queue together, on both gated routes.
    const attackers = limits.maxInFlight + limits.maxWaiting + 8;
    const received = requestsReceived;
    for (let i = 0; i < attackers; i++)
      slowRequest(server.url, i % 2 === 0 ? '/api/v1/verify' : '/api/v1/devices/login', opened);
    await until(() => requestsReceived - received === attackers, "the server has every slow request's headers");
    // Give a hook that would take a place for them time to run: a place is taken within a turn of the event loop.
    await new Promise((r) => setTimeout(r, 100));
    expect(gate().stats()).toMatchObject({ inFlight: 0, waiting: 0, admitted: before.admitted, shed: before.shed });

    // While every slow connection is still open: the verify API answers a right code.
    const u = await createUser(h, 'alice', { pin: PIN, withToken: true });
    nextStep();
    const verified = await h.http(
      'POST',
      '/api/v1/verify',
      { purpose: 'logon', username: 'alice', code: oathtool(u.totpSecret!, server.clock.now()), pin: PIN },
      clientKey,
    );
    expect(verified).toMatchObject({ status: 200, body: { ok: true, method: 'token' } });

    // An agent's login.
    const secret = (await h.http('GET', '/api/v1/admin/devices/enrollment-secret')).body.enrollmentSecret as string;
    const device = new TestDevice(server);
    expect((await device.enroll(secret)).status).toBe(200);
    const agentUser = await createUser(h, 'bob', { pin: PIN, withToken: true });
    nextStep();
    expect(await device.login('bob', PIN, oathtool(agentUser.totpSecret!, server.clock.now()))).toMatchObject({
      status: 200,
      body: { ok: true },
    });

    // A NAS's Access-Request (RADIUS shares the gate and drops what it cannot admit).
    await createUser(h, 'carol', { pin: PIN });
    const issued = await h.http('POST', '/api/v1/admin/users/carol/temporary-code', {
      expiresInMinutes: 60,
      multiUse: false,
    });
    expect(issued.status).toBe(201);
    nas.send(
      accessRequest({
        identifier: 31,
        secret: radiusSecret,
        username: 'carol',
        password: PIN + (issued.body.code as string),
      }),
      radius.port,
    );
    expect((await nas.answer(radius.port))?.[0]).toBe(CODE.AccessAccept);

    expect(opened.every((s) => !s.destroyed)).toBe(true); // the attack lasted the whole test
    expect(gate().stats().shed).toEqual(before.shed);
  });
});

describe('the server bounds how long a connection may take or sit idle', () => {
  /** Short enough for a test; the defaults are in src-server/http/timeouts.ts. */
  const TIMEOUTS = { headersMs: 500, requestMs: 1_000, idleMs: 5_000, keepAliveMs: 500 };
  /** Node checks header and request timeouts on a timer (here every 250 ms); the rest is room for a loaded machine. */
  const LATE_MS = 5_000;
  let server: TestServer;
  const opened: Socket[] = [];

  beforeAll(async () => {
    server = await startTestServer({ timeouts: TIMEOUTS });
  });
  afterAll(async () => {
    for (const s of opened.splice(0)) s.destroy();
    await server?.close();
  });

  it('a request whose body stops after one byte is answered 408 {error, message} and closed after the request timeout', async () => {
    const started = performance.now();
    const closed = closedBy(slowRequest(server.url, '/api/v1/devices/login', opened), started);
    const { text, afterMs } = await closed;
    expect(afterMs).toBeGreaterThanOrEqual(TIMEOUTS.requestMs - 50);
    expect(afterMs).toBeLessThan(TIMEOUTS.requestMs + LATE_MS);
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(text.split('\r\n\r\n')[1]!)).toEqual({ error: 'bad_request', message: expect.any(String) });
  });

  it('a connection that sends nothing is closed after the headers timeout', async () => {
    const { port } = new URL(server.url);
    const socket = connect(Number(port), '127.0.0.1');
    socket.on('error', () => undefined);
    opened.push(socket);
    const started = performance.now();
    const { afterMs } = await closedBy(socket, started);
    expect(afterMs).toBeGreaterThanOrEqual(TIMEOUTS.headersMs - 50);
    expect(afterMs).toBeLessThan(TIMEOUTS.headersMs + LATE_MS);
  });

  it('a keep-alive connection idle after its answer is closed after the keep-alive timeout', async () => {
    const { port } = new URL(server.url);
    const socket = connect(Number(port), '127.0.0.1');
    socket.on('error', () => undefined);
    opened.push(socket);
    let answered: number | undefined;
    const closed = closedBy(socket, 0);
    socket.once('data', () => (answered = performance.now()));
    socket.write('GET /readyz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
    const { text, afterMs } = await closed;
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    const idleMs = afterMs - answered!;
    expect(idleMs).toBeGreaterThanOrEqual(TIMEOUTS.keepAliveMs - 50);
    expect(idleMs).toBeLessThan(TIMEOUTS.keepAliveMs + LATE_MS);
  });
});
