import { afterEach, describe, expect, it } from 'vitest';
import { approve, PIN, slotVerifiers, tokenLogin, tokenVerifiers, world, type World } from './harness.js';

let w: World;
afterEach(async () => {
  await w?.close();
});

async function withOfflineData(offline: Record<string, unknown> = {}): Promise<World> {
  const made = await world({ offline });
  await tokenLogin(made);
  await approve(made);
  await tokenLogin(made);
  return made;
}

const login = (code: string, pin = PIN) => w.agent.login({ username: 'alice', pin, code, purpose: 'logon' });

describe('offline emergency access, lockout, wipe and revocation against a real server', () => {
  it('request → helpdesk reveal → accepted offline once; sync audits it and retires the slot; a fresh slot comes with the next login', async () => {
    w = await withOfflineData();
    expect(slotVerifiers(w.agent)).toBe(5);
    await w.relay.down();
    const shown = w.agent.emergencyRequest('Alice');
    expect(shown).toMatchObject({ ok: true, username: 'alice', slotsLeft: 5 });
    const request = shown.ok ? shown.request : '';

    // The helpdesk (console → server directly) reads the code for the request the user reads out.
    const reveal = await w.h.http('POST', '/api/v1/admin/emergency-access', {
      request: request.toLowerCase(),
      reason: 'user on a train without phone',
    });
    expect(reveal.status).toBe(200);
    expect(reveal.body).toMatchObject({ username: 'alice', device: w.agent.device().deviceId });
    const code = reveal.body.code as string;

    expect(await w.agent.emergencySubmit({ username: 'alice', code })).toMatchObject({
      ok: true,
      mode: 'offline',
      method: 'offline-emergency',
    });
    expect(await w.agent.emergencySubmit({ username: 'alice', code })).toMatchObject({
      ok: false,
      mode: 'offline',
      error: 'invalid_code',
    });
    expect(slotVerifiers(w.agent)).toBe(4);

    await w.relay.up();
    expect(await w.agent.runSync()).toMatchObject({ ok: true, pendingEvents: 0 });
    const used = (await w.audit('device.offline-success')).filter((e) => e.method === 'offline-emergency');
    expect(used).toHaveLength(1);
    expect(used[0]!.details).toMatchObject({ slot: reveal.body.slot });
    await tokenLogin(w);
    expect(slotVerifiers(w.agent)).toBe(5);
    const next = w.agent.emergencyRequest('alice');
    expect(next.ok && next.request).not.toBe(request);
  });

  it('wrong codes offline lock with growing delays, wipe at the maximum, and all of it reaches the audit after sync', async () => {
    w = await withOfflineData({ maxOfflineFailures: 5 });
    await w.relay.down();
    w.nextStep();
    const wrong = w.code() === '000000' ? '111111' : '000000';
    expect(await login(wrong)).toMatchObject({ error: 'invalid_code', triesLeft: 4 });
    expect(await login(wrong)).toMatchObject({ error: 'invalid_code', triesLeft: 3 });
    expect(await login(wrong)).toMatchObject({ error: 'locked', retryAfterSeconds: 30 });
    w.server.clock.advance(31_000);
    expect(await login(wrong)).toMatchObject({ error: 'locked', retryAfterSeconds: 60 });
    w.server.clock.advance(61_000);
    expect(await login(wrong)).toMatchObject({ error: 'offline_unavailable' });
    expect(tokenVerifiers(w.agent)).toBe(0);
    expect(slotVerifiers(w.agent)).toBe(0);

    await w.relay.up();
    expect(await w.agent.runSync()).toMatchObject({ ok: true, pendingEvents: 0 });
    expect(await w.audit('device.offline-failure')).toHaveLength(5);
    expect(await w.audit('device.offline-lockout')).toHaveLength(2);
    expect((await w.audit('device.offline-wipe'))[0]).toMatchObject({ subject: 'alice', reason: 'max-failures' });
  });

  it('refuses offline logins past the maximum days without contact', async () => {
    w = await withOfflineData({ days: 2, maxDaysWithoutContact: 1 });
    await w.relay.down();
    w.server.clock.advance(23 * 60 * 60_000);
    expect(await login(w.code())).toMatchObject({ ok: true, mode: 'offline' });
    w.server.clock.advance(2 * 60 * 60_000);
    expect(await login(w.code())).toMatchObject({ ok: false, mode: 'offline', error: 'offline_refused' });
  });

  it('a revoked device wipes its offline data at its next contact, and gets nothing else', async () => {
    w = await withOfflineData();
    const id = w.agent.device().deviceId;
    expect((await w.h.http('POST', `/api/v1/admin/devices/${id}/revoke`, {})).status).toBe(200);
    expect(await w.agent.runSync()).toMatchObject({ ok: false, error: 'device_revoked' });
    expect(tokenVerifiers(w.agent)).toBe(0);
    expect(slotVerifiers(w.agent)).toBe(0);
    expect(w.agent.device().status).toBe('revoked');
    w.nextStep();
    expect(await login(w.code())).toMatchObject({ ok: false, error: 'device_revoked' });
    expect(w.agent.store!.listUserRefs()).toHaveLength(0);
  });
});
