import { describe, expect, it } from 'vitest';
import { createUser } from '../../helpers/admin.js';
import { oathtool } from '../../helpers/oathtool.js';
import { useHarness } from '../../helpers/hooks.js';
import { leakedSecrets, startCodesHarness, type CodesHarness } from './harness.js';

const MINUTE = 60_000;
let h: CodesHarness;

useHarness('all', startCodesHarness, (started) => (h = started));

describe('POST /api/v1/verify with the normal token (codes from oathtool)', () => {
  it('accepts the current code once; the same code replayed is refused', async () => {
    const u = await h.userWithToken('tom');
    h.nextStep();
    const code = h.tokenCode(u.totpSecret);
    expect(await h.verify({ username: 'tom', code, pin: u.pin, purpose: 'logon' })).toMatchObject({
      status: 200,
      body: { ok: true, method: 'token' },
    });
    const replay = await h.verify({ username: 'tom', code, pin: u.pin, purpose: 'logon' });
    expect(replay).toMatchObject({ status: 401, body: { ok: false, error: 'invalid_code' } });
    const reasons = await h.server.ctx.db.all<{ reason: string | null; outcome: string; method: string | null }>(
      "SELECT reason, outcome, method FROM audit WHERE subject = 'tom' AND type = 'verify.attempt' ORDER BY id",
    );
    expect(reasons).toEqual([
      { reason: null, outcome: 'success', method: 'token' },
      { reason: 'replayed', outcome: 'failure', method: 'token' },
    ]);
  });

  it('allows one step of drift either way, not two; an older step after a newer one is a replay', async () => {
    const u = await h.userWithToken('tina');
    h.nextStep();
    expect(
      (await h.verify({ username: 'tina', code: h.tokenCode(u.totpSecret, -2), pin: u.pin, purpose: 'logon' })).status,
    ).toBe(401);
    expect(
      (await h.verify({ username: 'tina', code: h.tokenCode(u.totpSecret, 2), pin: u.pin, purpose: 'logon' })).status,
    ).toBe(401);
    expect(
      (await h.verify({ username: 'tina', code: h.tokenCode(u.totpSecret, 1), pin: u.pin, purpose: 'logon' })).status,
    ).toBe(200);
    // The step after `now` was used: the current step (older) can no longer be used.
    expect(
      (await h.verify({ username: 'tina', code: h.tokenCode(u.totpSecret, 0), pin: u.pin, purpose: 'logon' })).status,
    ).toBe(401);
  });

  it('a wrong PIN with the current token code does not burn the code: the right PIN with it then succeeds', async () => {
    const u = await h.userWithToken('uma');
    h.nextStep();
    const code = h.tokenCode(u.totpSecret);
    const wrong = await h.verify({ username: 'uma', code, pin: 'wrong-pin-000', purpose: 'logon' });
    expect(wrong).toMatchObject({ status: 401, body: { error: 'invalid_code' } });
    const noPin = await h.verify({ username: 'uma', code, purpose: 'logon' });
    expect(noPin.body).toEqual(wrong.body);
    expect(await h.verify({ username: 'uma', code, pin: u.pin, purpose: 'logon' })).toMatchObject({
      status: 200,
      body: { method: 'token' },
    });
  });

  it('after a normal-token success the temporary code no longer works', async () => {
    const u = await h.userWithToken('vera');
    const temp = await h.issueTemporary('vera', { multiUse: true });
    expect((await h.verify({ username: 'vera', code: temp.body.code, pin: u.pin, purpose: 'logon' })).status).toBe(200);
    h.nextStep();
    expect(
      (await h.verify({ username: 'vera', code: h.tokenCode(u.totpSecret), pin: u.pin, purpose: 'logon' })).status,
    ).toBe(200);
    expect((await h.verify({ username: 'vera', code: temp.body.code, pin: u.pin, purpose: 'logon' })).status).toBe(401);
    const revoke = await h.server.ctx.db.get<{ reason: string; actor_kind: string }>(
      "SELECT reason, actor_kind FROM audit WHERE subject = 'vera' AND type = 'temporary-code.revoke'",
    );
    expect(revoke).toEqual({ reason: 'token-success', actor_kind: 'client' });
  });

  it('an unknown user, an inactive user and a wrong code all get the same invalid_code; the reason is in the audit only', async () => {
    const u = await h.userWithToken('walt');
    h.nextStep();
    const unknown = await h.verify({ username: 'no-such-user', code: '123456', pin: u.pin, purpose: 'logon' });
    const wrong = await h.verify({ username: 'walt', code: '000000', pin: u.pin, purpose: 'logon' });
    await h.http('PATCH', '/api/v1/admin/users/walt', { status: 'inactive' });
    const inactive = await h.verify({
      username: 'walt',
      code: h.tokenCode(u.totpSecret),
      pin: u.pin,
      purpose: 'logon',
    });
    for (const r of [unknown, wrong, inactive])
      expect(r).toMatchObject({ status: 401, body: { ok: false, error: 'invalid_code' } });
    expect(unknown.body).toEqual(wrong.body);
    expect(inactive.body).toEqual(wrong.body);
    const reasons = await h.server.ctx.db.all<{ subject: string; reason: string }>(
      "SELECT subject, reason FROM audit WHERE type = 'verify.attempt' AND subject IN ('no-such-user', 'walt') ORDER BY id",
    );
    expect(reasons.map((r) => r.reason)).toEqual(['unknown_user', 'wrong_pin_or_code', 'user_inactive']);
  });

  it('3 wrong codes lock the user (423 with retryAfterSeconds); the lock lifts after 15 minutes on the clock', async () => {
    const u = await h.userWithToken('xena');
    for (let i = 0; i < 3; i++)
      expect((await h.verify({ username: 'xena', code: '000000', pin: u.pin, purpose: 'logon' })).status).toBe(401);
    h.nextStep();
    const locked = await h.verify({ username: 'xena', code: h.tokenCode(u.totpSecret), pin: u.pin, purpose: 'logon' });
    expect(locked.status).toBe(423);
    expect(locked.body).toMatchObject({ error: 'locked', permanent: false });
    expect(locked.body.retryAfterSeconds).toBeGreaterThan(14 * 60);
    expect(locked.body.retryAfterSeconds).toBeLessThanOrEqual(15 * 60);
    expect(locked.headers.get('retry-after')).toBe(String(locked.body.retryAfterSeconds));

    const lockedAt = h.server.clock.now();
    await h.advance(13 * MINUTE); // (signing the admin in again moves the clock to the next 30 s step)
    h.nextStep();
    expect(
      (await h.verify({ username: 'xena', code: h.tokenCode(u.totpSecret), pin: u.pin, purpose: 'logon' })).status,
    ).toBe(423);
    h.server.clock.set(lockedAt + locked.body.retryAfterSeconds * 1000);
    h.nextStep();
    expect(
      (await h.verify({ username: 'xena', code: h.tokenCode(u.totpSecret), pin: u.pin, purpose: 'logon' })).status,
    ).toBe(200);
    const lockouts = await h.server.ctx.db.all(
      "SELECT * FROM audit WHERE subject = 'xena' AND type = 'verify.lockout'",
    );
    expect(lockouts).toHaveLength(1);
  });

  it('a success resets the count: 2 failures, a success, 2 failures do not lock', async () => {
    const u = await h.userWithToken('yuri');
    const fail = () => h.verify({ username: 'yuri', code: '000000', pin: u.pin, purpose: 'logon' });
    await fail();
    await fail();
    h.nextStep();
    expect(
      (await h.verify({ username: 'yuri', code: h.tokenCode(u.totpSecret), pin: u.pin, purpose: 'logon' })).status,
    ).toBe(200);
    await fail();
    await fail();
    h.nextStep();
    expect(
      (await h.verify({ username: 'yuri', code: h.tokenCode(u.totpSecret), pin: u.pin, purpose: 'logon' })).status,
    ).toBe(200);
  });

  it('10 lock periods without a success lock the user until an admin unlocks', async () => {
    const u = await h.userWithToken('zack');
    for (let period = 1; period <= 10; period++) {
      for (let i = 0; i < 3; i++)
        expect((await h.verify({ username: 'zack', code: '000000', pin: u.pin, purpose: 'logon' })).status).toBe(401);
      const locked = await h.verify({ username: 'zack', code: '000000', pin: u.pin, purpose: 'logon' });
      expect(locked.status).toBe(423);
      expect(locked.body.permanent).toBe(period === 10);
      if (period < 10) h.server.clock.advance(15 * MINUTE);
    }
    await h.advance(24 * 60 * MINUTE);
    h.nextStep();
    const still = await h.verify({ username: 'zack', code: h.tokenCode(u.totpSecret), pin: u.pin, purpose: 'logon' });
    expect(still).toMatchObject({ status: 423, body: { error: 'locked', permanent: true } });
    // 30 failures were compared, never more (NIST SP 800-63B: at most 100 without a success).
    const failures = await h.server.ctx.db.get<{ n: number }>(
      "SELECT COUNT(*) AS n FROM audit WHERE subject = 'zack' AND type = 'verify.attempt' AND reason = 'wrong_pin_or_code'",
    );
    expect(failures!.n).toBe(30);

    const unlock = await h.http('POST', '/api/v1/admin/users/zack/unlock', {});
    expect(unlock.status, JSON.stringify(unlock.body)).toBe(200);
    h.nextStep();
    expect(
      (await h.verify({ username: 'zack', code: h.tokenCode(u.totpSecret), pin: u.pin, purpose: 'logon' })).status,
    ).toBe(200);
  });

  it('SHA-256 tokens with 8 digits work the same way (codes from oathtool --totp=SHA256 --digits=8)', async () => {
    await createUser(h, 'sha', { pin: 'Qz7-pin-93' });
    const enrolled = await h.http('POST', '/api/v1/admin/users/sha/token', { algorithm: 'SHA256', digits: 8 });
    expect(enrolled.status).toBe(200);
    const secret = new URL(enrolled.body.otpauthUri).searchParams.get('secret')!;
    h.secrets.add(secret);
    h.nextStep();
    const code = oathtool(secret, h.server.clock.now(), { algorithm: 'SHA256', digits: 8 });
    h.secrets.add(code);
    expect(code).toMatch(/^[0-9]{8}$/);
    expect(
      (await h.verify({ username: 'sha', code: code.slice(0, 6), pin: 'Qz7-pin-93', purpose: 'logon' })).status,
    ).toBe(401);
    expect(await h.verify({ username: 'sha', code, pin: 'Qz7-pin-93', purpose: 'logon' })).toMatchObject({
      status: 200,
      body: { method: 'token' },
    });
    expect((await h.verify({ username: 'sha', code, pin: 'Qz7-pin-93', purpose: 'logon' })).status).toBe(401);
  });

  it('the token serves every purpose, sign included', async () => {
    const u = await h.userWithToken('signer');
    h.nextStep();
    expect(
      (await h.verify({ username: 'signer', code: h.tokenCode(u.totpSecret), pin: u.pin, purpose: 'sign' })).status,
    ).toBe(200);
  });

  it('a user without a token cannot pass with a digits-only guess', async () => {
    await createUser(h, 'notoken', { pin: 'Qz7-pin-93' });
    expect((await h.verify({ username: 'notoken', code: '123456', pin: 'Qz7-pin-93', purpose: 'logon' })).status).toBe(
      401,
    );
  });

  it('no code, PIN or seed used above reached the logs, the audit table or the outbox', async () => {
    expect(h.secrets.size).toBeGreaterThan(20);
    expect(await leakedSecrets(h)).toEqual([]);
  });
});
