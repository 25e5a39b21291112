import { afterEach, describe, expect, it } from 'vitest';
import { createUser, loginAdmin, TEST_ADMIN_PASSWORD } from '../../helpers/admin.js';
import { approve, PIN, tokenLogin, tokenVerifiers, world, type World } from './harness.js';

let w: World;
afterEach(async () => {
  await w?.close();
});

async function withOfflineData(): Promise<World> {
  const made = await world();
  await tokenLogin(made);
  await approve(made);
  await tokenLogin(made);
  expect(tokenVerifiers(made.agent)).toBeGreaterThan(0);
  return made;
}

async function issueTemporary(multiUse: boolean, expiresInMinutes: number, username = 'alice'): Promise<string> {
  const res = await w.h.http('POST', `/api/v1/admin/users/${username}/temporary-code`, { expiresInMinutes, multiUse });
  expect(res.status).toBe(201);
  return res.body.code as string;
}

const login = (code: string, pin = PIN) => w.agent.login({ username: 'alice', pin, code, purpose: 'logon' });

describe('temporary codes and PIN changes, agent against a real server', () => {
  it('a multi-use temporary code used online works offline; revoked on the server, it stops after the next sync', async () => {
    w = await withOfflineData();
    const temp = await issueTemporary(true, 120);
    expect(await login(temp)).toMatchObject({ ok: true, mode: 'online', method: 'temporary' });
    await w.relay.down();
    expect(await login(temp)).toMatchObject({ ok: true, mode: 'offline', method: 'temporary' });
    expect(await login(temp)).toMatchObject({ ok: true, mode: 'offline', method: 'temporary' });
    expect(await login(temp, '999999')).toMatchObject({ ok: false, error: 'invalid_code' });

    await w.relay.up();
    expect((await w.h.http('DELETE', '/api/v1/admin/users/alice/temporary-code')).status).toBeLessThan(300);
    const sync = await w.agent.runSync();
    expect(sync).toMatchObject({ ok: true });
    expect(sync.ok && sync.resetsApplied).toBeGreaterThan(0);
    await w.relay.down();
    expect(await login(temp)).toMatchObject({ ok: false, mode: 'offline', error: 'invalid_code' });
    expect((await w.audit('device.offline-success')).filter((e) => e.method === 'temporary')).toHaveLength(2);
  });

  it('a cached temporary code stops at its expiry; a single-use one is never cached; a PIN change voids the verifiers after sync', async () => {
    w = await withOfflineData();
    const temp = await issueTemporary(true, 30);
    expect(await login(temp)).toMatchObject({ ok: true, mode: 'online', method: 'temporary' });
    await w.relay.down();
    expect(await login(temp)).toMatchObject({ ok: true, mode: 'offline' });
    w.server.clock.advance(31 * 60_000);
    expect(await login(temp)).toMatchObject({ ok: false, mode: 'offline', error: 'invalid_code' });

    await w.relay.up();
    w.h.adminToken = await loginAdmin(w.h, 'admin', TEST_ADMIN_PASSWORD, w.h.adminTotpSecret); // the session timed out meanwhile
    const single = await issueTemporary(false, 60);
    expect(await login(single)).toMatchObject({ ok: true, mode: 'online', method: 'temporary' });
    expect(w.agent.store!.verifiers(w.agent.store!.userRef('alice'), 'temporary')).toHaveLength(0);
    await w.relay.down();
    expect(await login(single)).toMatchObject({ ok: false, mode: 'offline', error: 'invalid_code' });

    await w.relay.up();
    expect((await w.h.http('PUT', '/api/v1/admin/users/alice/pin', { pin: '135791' })).status).toBeLessThan(300);
    expect(await w.agent.runSync()).toMatchObject({ ok: true });
    expect(tokenVerifiers(w.agent)).toBe(0);
    await w.relay.down();
    w.nextStep();
    expect(await login(w.code())).toMatchObject({ ok: false, mode: 'offline', error: 'invalid_code' });
    // Even the new PIN finds nothing to match; this third consecutive offline failure also starts a lock.
    expect(await login(w.code(), '135791')).toMatchObject({ ok: false, mode: 'offline', error: 'locked' });
  });

  it('a user without a token (contractor) keeps a cached temporary code across syncs until the PIN changes', async () => {
    w = await world();
    await tokenLogin(w); // enrolls the device
    await approve(w);
    await createUser(w.h, 'carol', { pin: '864200' });
    const temp = await issueTemporary(true, 240, 'carol');
    const carol = (code: string, pin = '864200') => w.agent.login({ username: 'carol', pin, code, purpose: 'logon' });
    expect(await carol(temp)).toMatchObject({ ok: true, mode: 'online', method: 'temporary' });
    const first = await w.agent.runSync();
    expect(first).toMatchObject({ ok: true });
    expect(await w.agent.runSync()).toMatchObject({ ok: true, resetsApplied: 0 }); // nothing left to change
    await w.relay.down();
    expect(await carol(temp)).toMatchObject({ ok: true, mode: 'offline', method: 'temporary' });

    await w.relay.up();
    expect((await w.h.http('PUT', '/api/v1/admin/users/carol/pin', { pin: '975310' })).status).toBeLessThan(300);
    expect(await w.agent.runSync()).toMatchObject({ ok: true });
    await w.relay.down();
    expect(await carol(temp)).toMatchObject({ ok: false, mode: 'offline', error: 'invalid_code' });
    expect(await carol(temp, '975310')).toMatchObject({ ok: false, mode: 'offline', error: 'invalid_code' });
  });
});
