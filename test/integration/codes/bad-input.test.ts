import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../../src-shared/errors.js';
import { startCodesHarness, type CodesHarness } from './harness.js';

let h: CodesHarness;
let pin: string;

beforeAll(async () => {
  h = await startCodesHarness();
  pin = (await h.userWithToken('kim')).pin;
});
afterAll(async () => {
  await h?.close();
});

/** Sends raw bytes with a chosen content type, for bodies the JSON helper cannot produce. */
async function raw(
  path: string,
  body: string,
  contentType = 'application/json',
  key: string | null = h.clientKey,
): Promise<{ status: number; body: { error?: string; message?: string } }> {
  const headers: Record<string, string> = { 'content-type': contentType };
  if (key) headers.authorization = `Bearer ${key}`;
  const res = await fetch(h.server.url + path, { method: 'POST', headers, body });
  return { status: res.status, body: (await res.json()) as { error?: string; message?: string } };
}

function expectStableError(
  r: { status: number; body: { error?: string; message?: string } },
  status: number,
  error: string,
): void {
  expect(r.status).toBe(status);
  expect(r.body.error).toBe(error);
  expect(ERROR_CODES).toContain(r.body.error);
  expect(typeof r.body.message).toBe('string');
  expect(r.body.message).not.toMatch(/\bat \S+:\d+|node_modules|Error:/); // never a stack trace
}

describe('POST /api/v1/verify refuses bad input with a stable code and keeps serving', () => {
  it('refuses a missing, malformed, unknown or revoked client key with 401 unauthorized before reading the body', async () => {
    expectStableError(await raw('/api/v1/verify', '{', 'application/json', null), 401, 'unauthorized');
    expectStableError(await raw('/api/v1/verify', '{}', 'application/json', 'not-a-key'), 401, 'unauthorized');
    const forged = h.clientKey.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    expectStableError(
      await h.verify({ username: 'kim', code: '123456', pin, purpose: 'logon' }, forged),
      401,
      'unauthorized',
    );

    const other = await h.http('POST', '/api/v1/admin/clients', { name: 'portal' });
    expect(
      (await h.verify({ username: 'kim', code: '123456', pin, purpose: 'logon' }, other.body.key)).body.error,
    ).toBe('invalid_code');
    expect((await h.http('DELETE', `/api/v1/admin/clients/${other.body.clientId}`)).status).toBe(200);
    expectStableError(
      await h.verify({ username: 'kim', code: '123456', pin, purpose: 'logon' }, other.body.key),
      401,
      'unauthorized',
    );
    const list = await h.http('GET', '/api/v1/admin/clients');
    expect(list.body.clients.map((c: { name: string }) => c.name)).toEqual(['vpn-gateway', 'portal']);
    expect(JSON.stringify(list.body)).not.toContain(other.body.key);
  });

  it('malformed JSON, wrong types, unknown fields, missing fields, an unknown purpose', async () => {
    expectStableError(await raw('/api/v1/verify', '{"username": "kim", '), 400, 'bad_request');
    expectStableError(await raw('/api/v1/verify', ''), 400, 'bad_request');
    expectStableError(await raw('/api/v1/verify', '[1,2,3]'), 400, 'validation_failed');
    expectStableError(await h.verify({ username: 42, code: '123456', purpose: 'logon' }), 400, 'validation_failed');
    expectStableError(
      await h.verify({ username: 'kim', code: ['123456'], purpose: 'logon' }),
      400,
      'validation_failed',
    );
    expectStableError(
      await h.verify({ username: 'kim', code: '123456', purpose: 'logon', admin: true }),
      400,
      'validation_failed',
    );
    expectStableError(await h.verify({ username: 'kim', purpose: 'logon' }), 400, 'validation_failed');
    expectStableError(
      await h.verify({ username: 'kim', code: '123456', purpose: 'launch-missiles' }),
      400,
      'validation_failed',
    );
    expectStableError(
      await h.verify({ username: 'kim', code: '1'.repeat(65), purpose: 'logon' }),
      400,
      'validation_failed',
    );
  });

  it('an oversized body is 413 and a non-JSON content type 415', async () => {
    expectStableError(
      await raw('/api/v1/verify', JSON.stringify({ username: 'kim', code: 'x'.repeat(200_000), purpose: 'logon' })),
      413,
      'body_too_large',
    );
    expectStableError(
      await raw('/api/v1/verify', 'username=kim', 'application/x-www-form-urlencoded'),
      415,
      'unsupported_media_type',
    );
  });

  it('odd Unicode in usernames and codes is just an invalid code', async () => {
    const odd = ['kim\u200d', '\u202ekim', 'k\u0000im', '😀', 'ＫＩＭ', 'a'.repeat(256), ' ', 'kim\ud800'];
    for (const username of odd) {
      const r = await h.verify({ username, code: '123456', pin, purpose: 'logon' });
      expect([401, 423]).toContain(r.status);
      expect(ERROR_CODES).toContain(r.body.error);
    }
    for (const code of [
      '１２３４５６',
      '\u0661\u0662\u0663\u0664\u0665\u0666',
      'ǅ'.repeat(10),
      '\u0000\u0000',
      '💥💥💥💥',
      '-- --',
    ]) {
      const r = await h.verify({ username: 'kim', code, pin, purpose: 'logon' });
      expect([401, 423]).toContain(r.status);
    }
  });

  it('the issue endpoints refuse bad input the same way', async () => {
    const p = '/api/v1/admin/users/kim/temporary-code';
    expectStableError(await h.http('POST', p, { expiresInMinutes: 'soon' }), 400, 'validation_failed');
    expectStableError(
      await h.http('POST', p, { expiresInMinutes: 60, code: 'CHOSEN-BY-ADMIN' }),
      400,
      'validation_failed',
    );
    expectStableError(await h.http('POST', p, { purposes: [] }), 400, 'validation_failed');
    expectStableError(await h.http('POST', '/api/v1/admin/users/%E2%80%AEkim/temporary-code', {}), 404, 'not_found');
    expectStableError(
      await h.http('POST', '/api/v1/admin/users/kim/emergency-codes', { count: 2.5 }),
      400,
      'validation_failed',
    );
    expectStableError(
      await h.http('POST', '/api/v1/admin/users/kim/emergency-codes', { count: 2, tokenBehaviour: 'maybe' }),
      400,
      'validation_failed',
    );
  });

  it('is still serving', async () => {
    const res = await fetch(h.server.url + '/healthz');
    expect(res.status).toBe(200);
    expect(h.server.logLines.join('\n')).not.toMatch(/"level":50/); // no 5xx was logged
  });
});
