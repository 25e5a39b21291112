import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_POLICY } from '../../../src-shared/policy.js';
import { VERIFIER_SCRYPT_FLOOR } from '../../../src-shared/verifier-floor.js';
import { bootstrap } from '../../helpers/admin.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { approve, PIN, slotVerifiers, tokenLogin, tokenVerifiers, world, type World } from './harness.js';

/**
 * The verifier floor (src-shared/verifier-floor.ts): the server refuses a policy below it, and an agent refuses a
 * bundle below the floor it ships with, whatever the server sent. Here the floors are the shipped one; the other
 * tests lower both (TEST_VERIFIER_FLOOR) to hash in milliseconds.
 */

let server: TestServer | undefined;
let w: World | undefined;
afterEach(async () => {
  await server?.close();
  await w?.close();
  server = undefined;
  w = undefined;
});

describe('the server refuses verifier parameters below the floor', () => {
  it('PATCH /api/v1/admin/settings answers 400 weak_verifier_parameters and changes nothing', async () => {
    server = await startTestServer({ verifierScryptFloor: VERIFIER_SCRYPT_FLOOR });
    const h = await bootstrap(server);
    const patch = (name: string, verifierScrypt: Record<string, number>) =>
      h.http('PATCH', '/api/v1/admin/settings', { policies: { [name]: { offline: { verifierScrypt } } } });
    for (const weak of [
      { N: 2 ** 10, r: 8, p: 1 },
      { N: 2 ** 11, r: 4, p: 1 },
      { N: 2 ** 4, r: 8, p: 1 },
    ]) {
      const res = await patch('default', weak);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({
        error: 'weak_verifier_parameters',
        details: [{ path: '/offline/verifierScrypt' }],
      });
      expect(res.body.message).toContain(`N=${VERIFIER_SCRYPT_FLOOR.N}, r=${VERIFIER_SCRYPT_FLOOR.r}`);
    }
    expect((await patch('light', { N: 2 ** 4, r: 8, p: 1 })).status).toBe(400);
    const view = await h.http('GET', '/api/v1/admin/settings');
    expect(view.body.policies.map((p: { name: string }) => p.name)).not.toContain('light');
    expect(
      view.body.policies.find((p: { name: string }) => p.name === 'default')?.policy.offline.verifierScrypt ??
        DEFAULT_POLICY.offline.verifierScrypt,
    ).toEqual(VERIFIER_SCRYPT_FLOOR);
    // At the floor and above is fine.
    expect((await patch('default', { N: 2 ** 12, r: 8, p: 1 })).status).toBe(200);
  });
});

describe('the agent refuses a bundle below the floor it ships with', () => {
  it('signs in online but builds no verifiers from a weak bundle, so offline mode stays off for that user', async () => {
    // The server's floor is lowered (as a misconfigured or hostile server's would be); the agent's is the shipped one.
    const lines: string[] = [];
    w = await world({ agentVerifierFloor: VERIFIER_SCRYPT_FLOOR, logLines: lines });
    await tokenLogin(w);
    await approve(w);
    expect(await tokenLogin(w)).toMatchObject({ ok: true, mode: 'online', preparing: false });
    expect(tokenVerifiers(w.agent)).toBe(0);
    expect(slotVerifiers(w.agent)).toBe(0);
    expect(lines.some((l) => l.includes('verifier parameters are below the floor'))).toBe(true);
    await w.relay.down();
    w.nextStep();
    expect(await w.agent.login({ username: 'alice', pin: PIN, code: w.code(), purpose: 'logon' })).toMatchObject({
      ok: false,
      mode: 'offline',
      error: 'offline_unavailable',
    });
  });
});
