import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { signDeviceRequest } from '../../../src-shared/crypto/device-messages.js';
import { ERROR_CODES } from '../../../src-shared/errors.js';
import { createUser, nextTotp, startAdminServer, TEST_ADMIN_PASSWORD, type AdminHarness } from '../../helpers/admin.js';
import type { TestServer } from '../../helpers/server.js';
import { useHarness } from '../../helpers/hooks.js';
import { TestDevice } from '../devices/test-device.js';

let server: TestServer;
let h: AdminHarness;
useHarness('all', startAdminServer, (started) => {
  h = started;
  server = started.server;
});

async function raw(method: string, path: string, body: string | undefined, headers: Record<string, string> = {}) {
  const res = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${h.adminToken}`, 'content-type': 'application/json', ...headers },
    ...(body !== undefined ? { body } : {}),
  });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) as { error: string; message: string } };
}

async function stillServing(): Promise<void> {
  expect((await h.http('GET', '/api/v1/admin/sessions/current')).status).toBe(200);
}

function expectClientError(
  r: { status: number; text: string; body: { error: string; message: string } },
  code?: string,
): void {
  expect(r.status).toBeGreaterThanOrEqual(400);
  expect(r.status).toBeLessThan(500);
  expect(ERROR_CODES).toContain(r.body.error);
  if (code) expect(r.body.error).toBe(code);
  expect(typeof r.body.message).toBe('string');
  expect(r.text).not.toMatch(/at .*\.ts:\d+|node_modules|stack/i);
}

describe('bad input gets a 4xx with a stable code, and the server keeps serving', () => {
  it('malformed JSON', async () => {
    for (const body of ['{', '{"username": }', 'null', '[]', '"x"', '\u0000']) {
      expectClientError(await raw('POST', '/api/v1/admin/users', body));
    }
    expectClientError(await raw('POST', '/api/v1/admin/sessions', '{"username":"admin",'), 'bad_request');
    await stillServing();
  });

  it('wrong types and unknown fields', async () => {
    expectClientError(await raw('POST', '/api/v1/admin/users', JSON.stringify({ username: 42 })), 'validation_failed');
    expectClientError(
      await raw('POST', '/api/v1/admin/users', JSON.stringify({ username: 'x', isAdmin: true })),
      'validation_failed',
    );
    expectClientError(
      await raw('POST', '/api/v1/admin/sessions', JSON.stringify({ username: 'admin', password: ['a'], otp: 123456 })),
      'validation_failed',
    );
    expectClientError(
      await raw('PATCH', '/api/v1/admin/settings', JSON.stringify({ settings: { temporaryCodesEnabled: 'yes' } })),
      'validation_failed',
    );
    expectClientError(
      await raw(
        'PATCH',
        '/api/v1/admin/settings',
        JSON.stringify({ policies: { default: { lockout: { maxFailures: 1000 } } } }),
      ),
      'validation_failed',
    );
    expectClientError(
      await raw('PATCH', '/api/v1/admin/settings', '{"policies":{"default":{"__proto__":{"polluted":true}}}}'),
      'bad_request',
    ); // refused by Fastify's JSON parser
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expectClientError(
      await raw('PATCH', '/api/v1/admin/settings', JSON.stringify({ policies: { 'Bad Name!': {} } })),
      'validation_failed',
    );
    expectClientError(
      await raw('PATCH', '/api/v1/admin/settings', JSON.stringify({ policies: { default: null } })),
      'conflict',
    );
    expectClientError(
      await raw('PUT', '/api/v1/admin/users/nobody/pin', JSON.stringify({ pin: 123456 })),
      'validation_failed',
    );
    expectClientError(await raw('GET', '/api/v1/admin/users?limit=-5', undefined), 'validation_failed');
    await stillServing();
  });

  it('oversized bodies and wrong media types', async () => {
    expectClientError(
      await raw('POST', '/api/v1/admin/users', JSON.stringify({ username: 'a'.repeat(200_000) })),
      'body_too_large',
    );
    expectClientError(
      await raw('POST', '/api/v1/admin/users', 'username=x', { 'content-type': 'application/x-www-form-urlencoded' }),
      'unsupported_media_type',
    );
    await stillServing();
  });

  it('odd Unicode in usernames is refused or normalised, never crashes', async () => {
    const odd = [
      '',
      ' ',
      'a b',
      'zero\u200bwidth',
      'rtl\u202eevil',
      'ctl\u0001',
      '../etc',
      'x'.repeat(65),
      '\ud800',
      '😀',
      'a/b',
      'a%00',
    ];
    for (const username of odd) {
      const r = await raw('POST', '/api/v1/admin/users', JSON.stringify({ username }));
      expectClientError(r, 'validation_failed');
    }
    // Composed and decomposed forms are one user; case folds.
    const composed = await raw('POST', '/api/v1/admin/users', JSON.stringify({ username: 'Jos\u00e9' }));
    expect(composed.status).toBe(201);
    expectClientError(await raw('POST', '/api/v1/admin/users', JSON.stringify({ username: 'jose\u0301' })), 'conflict');
    expect((await h.http('GET', `/api/v1/admin/users/${encodeURIComponent('JOSE\u0301')}`)).status).toBe(200);
    expect((await h.http('GET', `/api/v1/admin/users/${encodeURIComponent('nobody\u200b')}`)).status).toBe(404);
    // Other scripts are fine.
    expect((await raw('POST', '/api/v1/admin/users', JSON.stringify({ username: 'Łukasz.Müller' }))).status).toBe(201);
    expect((await raw('POST', '/api/v1/admin/users', JSON.stringify({ username: '山田' }))).status).toBe(201);
    await stillServing();
  });

  it('no or bad credentials: 401 unauthorized', async () => {
    expectClientError(await raw('GET', '/api/v1/admin/users', undefined, { authorization: '' }), 'unauthorized');
    expectClientError(
      await raw('GET', '/api/v1/admin/users', undefined, {
        authorization: 'Bearer nonsense-token-that-is-long-enough',
      }),
      'unauthorized',
    );
    expectClientError(
      await raw('GET', '/api/v1/admin/users', undefined, { authorization: 'Basic YWRtaW46YWRtaW4=' }),
      'unauthorized',
    );
    expectClientError(await raw('GET', '/api/v1/admin/nothing-here', undefined), 'not_found');
  });
});

describe('edge values and router errors are 4xx with {error, message}, never a 500', () => {
  /** The request line as sent, without fetch's URL normalisation (fetch would re-encode `%zz`). */
  async function rawRequestLine(
    target: string,
    extraHeaders = '',
  ): Promise<{ status: number; text: string; body: { error: string; message: string } }> {
    const { port } = new URL(server.url);
    const socket = connect(Number(port), '127.0.0.1');
    socket.write(
      `GET ${target} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${h.adminToken}\r\n${extraHeaders}connection: close\r\n\r\n`,
    );
    let received = '';
    for await (const chunk of socket) received += String(chunk);
    const [head, text = ''] = received.split('\r\n\r\n');
    return {
      status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head!)![1]),
      text,
      body: JSON.parse(text) as { error: string; message: string },
    };
  }

  it('time filters beyond what a Date can hold: the audit chart, its CSV and the audit log answer 400 validation_failed', async () => {
    for (const path of [
      '/api/v1/admin/console/audit-stats',
      '/api/v1/admin/console/audit.csv',
      '/api/v1/admin/audit',
    ]) {
      for (const query of [
        `until=${Number.MAX_SAFE_INTEGER}`,
        `since=${Number.MAX_SAFE_INTEGER}`,
        'until=8640000000000001',
        'until=1e300',
      ]) {
        expectClientError(await raw('GET', `${path}?${query}`, undefined), 'validation_failed');
      }
    }
    // The largest time a Date holds is still a valid filter.
    expect((await h.http('GET', '/api/v1/admin/console/audit-stats?until=8640000000000000')).status).toBe(200);
    expect((await h.http('GET', `/api/v1/admin/audit?before=${Number.MAX_SAFE_INTEGER}&limit=1000`)).status).toBe(200);
    expect((await h.http('GET', `/api/v1/admin/users?offset=${Number.MAX_SAFE_INTEGER}`)).status).toBe(200);
    await stillServing();
  });

  it('a 5,000-deep nested JSON body (parsed before any signature or credential is checked) is 400 bad_request', async () => {
    const secret = (await h.http('GET', '/api/v1/admin/devices/enrollment-secret')).body.enrollmentSecret as string;
    const device = new TestDevice(server);
    expect((await device.enroll(secret)).status).toBe(200);
    // Well-formed device headers from an enrolled device: the server hashes the body to check the signature.
    const signedHeaders = (path: string) =>
      signDeviceRequest(
        device.signing.privateKey,
        { method: 'POST', path, deviceId: device.deviceId, body: {} },
        server.clock.now(),
      );
    const deep = '['.repeat(5_000) + ']'.repeat(5_000);
    const nested = '{"a":'.repeat(5_000) + '1' + '}'.repeat(5_000);
    for (const body of [deep, nested, `{"v":1,"events":${deep}}`]) {
      for (const path of ['/api/v1/devices/sync', '/api/v1/devices/login']) {
        expectClientError(await raw('POST', path, body, { authorization: '', ...signedHeaders(path) }), 'bad_request');
      }
      expectClientError(await raw('POST', '/api/v1/admin/users', body), 'bad_request');
    }
    // Brackets inside strings are text, not depth.
    expectClientError(
      await raw('POST', '/api/v1/admin/users', JSON.stringify({ username: '['.repeat(5_000) })),
      'validation_failed',
    );
    await stillServing();
  });

  it('router errors: a malformed escape (400), an over-long path segment (414) and headers too large (431) use the {error, message} shape', async () => {
    for (const target of ['/%zz', '/api/v1/admin/users/%zz', '/api/v1/admin/users/%E0%A4%A']) {
      const r = await rawRequestLine(target);
      expect(r.status).toBe(400);
      expectClientError(r, 'bad_request');
    }
    const tooLong = await rawRequestLine(`/api/v1/admin/users/${'a'.repeat(5_000)}`);
    expect(tooLong.status).toBe(414);
    expectClientError(tooLong, 'bad_request');
    // Refused by Node's HTTP parser before any route: the same shape.
    const hugeHeaders = await rawRequestLine('/api/v1/admin/users', `x-padding: ${'p'.repeat(20_000)}\r\n`);
    expect(hugeHeaders.status).toBe(431);
    expectClientError(hugeHeaders, 'bad_request');
    await stillServing();
  });
});

describe('no secret reaches a log line or the audit table', () => {
  it('passwords, TOTP codes, PINs, seeds and session tokens stay out', async () => {
    const pin = '739146';
    const otp = nextTotp(server, h.adminTotpSecret);
    const login = await h.http(
      'POST',
      '/api/v1/admin/sessions',
      { username: 'admin', password: TEST_ADMIN_PASSWORD, otp },
      null,
    );
    expect(login.status).toBe(200);
    await h.http(
      'POST',
      '/api/v1/admin/sessions',
      { username: 'admin', password: 'a wrong password', otp: '123456' },
      null,
    );
    const user = await createUser(h, 'kim', { pin, withToken: true });
    const cookie = await fetch(`${server.url}/api/v1/admin/console-sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        username: 'admin',
        password: TEST_ADMIN_PASSWORD,
        otp: nextTotp(server, h.adminTotpSecret),
      }),
    });
    const csrf = ((await cookie.json()) as { csrfToken: string }).csrfToken;
    const secrets = [
      TEST_ADMIN_PASSWORD,
      'a wrong password',
      otp,
      h.adminTotpSecret,
      pin,
      user.totpSecret!,
      login.body.token,
      h.adminToken,
      csrf,
    ];
    const audit = JSON.stringify(await server.ctx.db.all('SELECT * FROM audit'));
    const notifications = JSON.stringify(await server.ctx.db.all('SELECT * FROM notifications'));
    const logs = server.logLines.join('\n');
    expect(logs.length).toBeGreaterThan(1000);
    for (const s of secrets) {
      expect(logs, 'log').not.toContain(s);
      expect(audit, 'audit').not.toContain(s);
      expect(notifications, 'notifications').not.toContain(s);
    }
  });
});
