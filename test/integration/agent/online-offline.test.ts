import { afterEach, describe, expect, it } from 'vitest';
import { approve, PIN, tokenLogin, tokenVerifiers, world, type World } from './harness.js';

let w: World;
afterEach(async () => {
  await w?.close();
});

const WINDOWS_PER_DAY = 2880;

describe('agent against a real server: enrollment, offline data, offline login, sync', () => {
  it('pending gets nothing; approved downloads D days; offline a later window logs in once; sync makes the server refuse it', async () => {
    w = await world();
    const first = await tokenLogin(w);
    expect(first).toMatchObject({ ok: true, mode: 'online', method: 'token' });
    expect(w.agent.device().status).toBe('pending');
    expect(tokenVerifiers(w.agent)).toBe(0);

    await approve(w);
    const second = await tokenLogin(w);
    expect(second).toMatchObject({ ok: true, mode: 'online', method: 'token', preparing: true });
    expect(w.agent.device().status).toBe('approved');
    const held = tokenVerifiers(w.agent);
    expect(held).toBeGreaterThanOrEqual(WINDOWS_PER_DAY - 2);
    expect(held).toBeLessThanOrEqual(WINDOWS_PER_DAY + 1);
    expect((await w.audit('device.offline-data')).length).toBe(1);

    await w.relay.down();
    w.nextStep(20); // ten minutes later, no server
    const code = w.code();
    expect(await w.agent.login({ username: 'alice', pin: PIN, code, purpose: 'logon' })).toMatchObject({
      ok: true,
      mode: 'offline',
      method: 'token',
    });
    expect(await w.agent.login({ username: 'alice', pin: PIN, code, purpose: 'logon' })).toMatchObject({
      ok: false,
      mode: 'offline',
      error: 'invalid_code',
    });
    expect(await w.agent.login({ username: 'alice', pin: PIN, code: w.code(-30_000), purpose: 'logon' })).toMatchObject(
      { ok: false, mode: 'offline', error: 'invalid_code' },
    );

    await w.relay.up();
    const sync = await w.agent.runSync();
    expect(sync).toMatchObject({ ok: true, pendingEvents: 0 });
    expect(sync.ok && sync.uploaded).toBe(3);
    const successes = await w.audit('device.offline-success');
    expect(successes).toHaveLength(1);
    expect(successes[0]).toMatchObject({ subject: 'alice', device: w.agent.device().deviceId });
    // Burned centrally: the same window is now refused online too.
    expect(await w.agent.login({ username: 'alice', pin: PIN, code, purpose: 'logon' })).toMatchObject({
      ok: false,
      mode: 'online',
      error: 'invalid_code',
    });
  });

  it("passes the server's online lockout through as data, with the time to wait", async () => {
    w = await world();
    await tokenLogin(w);
    w.nextStep();
    const wrong = w.code() === '000000' ? '111111' : '000000';
    const answers = [];
    for (let i = 0; i < 3; i++)
      answers.push(await w.agent.login({ username: 'alice', pin: PIN, code: wrong, purpose: 'logon' }));
    expect(answers[0]).toMatchObject({ ok: false, mode: 'online', error: 'invalid_code' });
    const locked = await w.agent.login({ username: 'alice', pin: PIN, code: w.code(), purpose: 'logon' });
    expect(locked).toMatchObject({ ok: false, mode: 'online', error: 'locked' });
    expect(!locked.ok && locked.retryAfterSeconds).toBeGreaterThan(0);
  });
});
