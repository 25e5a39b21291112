import { describe, expect, it } from 'vitest';
import { createAdminAndLogin, createUser } from '../../helpers/admin.js';
import { useHarness } from '../../helpers/hooks.js';
import { DEFAULT_PIN, leakedSecrets, startCodesHarness, type CodesHarness } from './harness.js';

const HOUR = 3_600_000;
let h: CodesHarness;

useHarness('all', startCodesHarness, (started) => (h = started));

const path = (u: string) => `/api/v1/admin/users/${u}/temporary-code`;

describe('temporary codes over HTTP', () => {
  it('is shown once, in groups of four, and cannot be read back', async () => {
    await createUser(h, 'alice', { pin: DEFAULT_PIN });
    const issued = await h.issueTemporary('alice', { expiresInMinutes: 60 });
    expect(issued.status).toBe(201);
    expect(issued.body.code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
    expect(issued.body).toMatchObject({
      multiUse: false,
      pinRequired: true,
      replaced: false,
      expiresAt: h.server.clock.now() + HOUR,
    });
    expect(issued.headers.get('cache-control')).toBe('no-store');

    const status = await h.http('GET', path('alice'));
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ active: true, multiUse: false });
    expect(JSON.stringify(status.body)).not.toContain(issued.body.code.replace(/-/g, ''));
    expect(status.body.code).toBeUndefined();
    const row = await h.server.ctx.db.get<{ code_hash: Buffer }>(
      "SELECT code_hash FROM temporary_codes WHERE user_id = (SELECT id FROM users WHERE username = 'alice')",
    );
    expect(row!.code_hash.toString('utf8')).not.toContain(issued.body.code.replace(/-/g, ''));
    expect(row!.code_hash.length).toBe(32);

    // Typed in lower case with spaces, as read over the phone: normalised before the comparison.
    const typed = issued.body.code.toLowerCase().replace(/-/g, ' ');
    const ok = await h.verify({ username: 'alice', code: typed, pin: DEFAULT_PIN, purpose: 'logon' });
    expect(ok).toMatchObject({ status: 200, body: { ok: true, method: 'temporary' } });
    // Single-use: the second use fails like any wrong code.
    const again = await h.verify({ username: 'alice', code: issued.body.code, pin: DEFAULT_PIN, purpose: 'logon' });
    expect(again).toMatchObject({ status: 401, body: { ok: false, error: 'invalid_code' } });
  });

  it('issuing again replaces: the first code fails, the second works (multi-use until expiry)', async () => {
    await createUser(h, 'bob', { pin: DEFAULT_PIN });
    const first = await h.issueTemporary('bob', { multiUse: true, expiresInMinutes: 120 });
    const second = await h.issueTemporary('bob', { multiUse: true, expiresInMinutes: 120 });
    expect(second.status).toBe(201);
    expect(second.body.replaced).toBe(true);
    expect(
      (await h.verify({ username: 'bob', code: first.body.code, pin: DEFAULT_PIN, purpose: 'logon' })).status,
    ).toBe(401);
    for (let i = 0; i < 3; i++) {
      expect(
        (await h.verify({ username: 'bob', code: second.body.code, pin: DEFAULT_PIN, purpose: 'remote-access' })).body,
      ).toEqual({ ok: true, method: 'temporary' });
    }
    await h.advance(121 * 60_000);
    expect(
      (await h.verify({ username: 'bob', code: second.body.code, pin: DEFAULT_PIN, purpose: 'logon' })).status,
    ).toBe(401);
    const audit = await h.server.ctx.db.all<{ type: string; actor: string }>(
      "SELECT type, actor FROM audit WHERE subject = 'bob' AND type LIKE 'temporary-code.%' ORDER BY id",
    );
    expect(audit.map((a) => a.type)).toEqual(['temporary-code.issue', 'temporary-code.replace']);
    expect(audit.every((a) => a.actor === 'admin')).toBe(true);
  });

  it('revoke: the code stops working; revoking again is 404', async () => {
    await createUser(h, 'carol', { pin: DEFAULT_PIN });
    const issued = await h.issueTemporary('carol', { multiUse: true });
    expect((await h.http('DELETE', path('carol'))).status).toBe(200);
    expect(
      (await h.verify({ username: 'carol', code: issued.body.code, pin: DEFAULT_PIN, purpose: 'logon' })).status,
    ).toBe(401);
    expect((await h.http('DELETE', path('carol'))).body.error).toBe('not_found');
    expect((await h.http('GET', path('carol'))).body).toEqual({ active: false });
  });

  it('the 7th code in an hour is refused with 429 rate_limited and a retry time; the next hour allows again', async () => {
    await createUser(h, 'dave', { pin: DEFAULT_PIN });
    for (let i = 0; i < 6; i++) expect((await h.issueTemporary('dave')).status).toBe(201);
    const seventh = await h.issueTemporary('dave');
    expect(seventh.status).toBe(429);
    expect(seventh.body.error).toBe('rate_limited');
    expect(seventh.body.retryAfterSeconds).toBeGreaterThan(0);
    expect(seventh.body.retryAfterSeconds).toBeLessThanOrEqual(3600);
    await h.advance(HOUR + 1000);
    expect((await h.issueTemporary('dave')).status).toBe(201);
  });

  it('refuses a lifetime outside the policy, sign without the policy, an inactive user, an unknown user', async () => {
    await createUser(h, 'erin', { pin: DEFAULT_PIN });
    expect((await h.issueTemporary('erin', { expiresInMinutes: 4 })).body.error).toBe('policy_violation');
    expect((await h.issueTemporary('erin', { expiresInMinutes: 15 * 24 * 60 })).body.error).toBe('policy_violation');
    expect((await h.issueTemporary('erin', { purposes: ['logon', 'sign'] })).body.error).toBe('policy_violation');
    expect((await h.issueTemporary('nobody-here')).status).toBe(404);
    expect((await h.http('PATCH', '/api/v1/admin/users/erin', { status: 'inactive' })).status).toBe(200);
    const refused = await h.issueTemporary('erin');
    expect(refused.status).toBe(409);
    expect(refused.body.error).toBe('user_inactive');
  });

  it('a code issued before the user was deactivated does not verify', async () => {
    await createUser(h, 'frank', { pin: DEFAULT_PIN });
    const issued = await h.issueTemporary('frank', { multiUse: true });
    expect(
      (await h.verify({ username: 'frank', code: issued.body.code, pin: DEFAULT_PIN, purpose: 'logon' })).status,
    ).toBe(200);
    await h.http('PATCH', '/api/v1/admin/users/frank', { status: 'inactive' });
    const r = await h.verify({ username: 'frank', code: issued.body.code, pin: DEFAULT_PIN, purpose: 'logon' });
    expect(r).toMatchObject({ status: 401, body: { error: 'invalid_code' } });
    const last = await h.server.ctx.db.get<{ reason: string }>(
      "SELECT reason FROM audit WHERE subject = 'frank' AND type = 'verify.attempt' ORDER BY id DESC LIMIT 1",
    );
    expect(last!.reason).toBe('user_inactive');
  });

  it("purpose 'sign' is refused with purpose_not_allowed only when code and PIN are right, and burns nothing", async () => {
    await createUser(h, 'gina', { pin: DEFAULT_PIN });
    const issued = await h.issueTemporary('gina');
    const wrongPin = await h.verify({ username: 'gina', code: issued.body.code, pin: 'not-the-pin', purpose: 'sign' });
    expect(wrongPin.body.error).toBe('invalid_code');
    const sign = await h.verify({ username: 'gina', code: issued.body.code, pin: DEFAULT_PIN, purpose: 'sign' });
    expect(sign).toMatchObject({ status: 403, body: { error: 'purpose_not_allowed' } });
    // Still single-use and unused: it works once for an allowed purpose.
    expect(
      (await h.verify({ username: 'gina', code: issued.body.code, pin: DEFAULT_PIN, purpose: 'unlock' })).status,
    ).toBe(200);
  });

  it('the PIN is needed with the code: without it or with a wrong one the code fails and is not burnt', async () => {
    await createUser(h, 'hank', { pin: DEFAULT_PIN });
    const issued = await h.issueTemporary('hank');
    expect((await h.verify({ username: 'hank', code: issued.body.code, purpose: 'logon' })).body.error).toBe(
      'invalid_code',
    );
    expect(
      (await h.verify({ username: 'hank', code: issued.body.code, pin: 'wrong-pin-1', purpose: 'logon' })).body.error,
    ).toBe('invalid_code');
    expect(
      (await h.verify({ username: 'hank', code: issued.body.code, pin: DEFAULT_PIN, purpose: 'logon' })).status,
    ).toBe(200);
  });

  it('a user without a PIN cannot get a code the policy wants a PIN with', async () => {
    await createUser(h, 'ivan');
    const r = await h.issueTemporary('ivan');
    expect(r).toMatchObject({ status: 403, body: { error: 'not_eligible' } });
  });

  it('feature_disabled while the enterprise has temporary codes off; a helpdesk admin without codes.issue gets 403', async () => {
    const helpdesk = await createAdminAndLogin(h, 'helpdesk-1', ['helpdesk']);
    await createUser(h, 'judy', { pin: DEFAULT_PIN });
    const forbidden = await h.http('POST', path('judy'), {}, helpdesk.token);
    expect(forbidden).toMatchObject({ status: 403, body: { error: 'forbidden' } });
    expect(
      (await h.http('PATCH', '/api/v1/admin/settings', { settings: { temporaryCodesEnabled: false } })).status,
    ).toBe(200);
    expect((await h.issueTemporary('judy')).body.error).toBe('feature_disabled');
    expect(
      (await h.http('PATCH', '/api/v1/admin/settings', { settings: { temporaryCodesEnabled: true } })).status,
    ).toBe(200);
    expect((await h.issueTemporary('judy')).status).toBe(201);
  });

  it('a contractors policy without PINs: the code works alone; a policy that lists sign lets a code sign', async () => {
    const policies = {
      contractors: { enrollmentAllowed: false, offline: { allowed: false }, pin: { required: false } },
      signers: { temporaryCodes: { purposes: ['logon', 'sign'] } },
    };
    expect((await h.http('PATCH', '/api/v1/admin/settings', { policies })).status).toBe(200);
    await createUser(h, 'contractor-1', { policy: 'contractors' });
    const c = await h.issueTemporary('contractor-1', { multiUse: true, expiresInMinutes: 24 * 60 });
    expect(c.body).toMatchObject({ pinRequired: false, multiUse: true });
    expect((await h.verify({ username: 'contractor-1', code: c.body.code, purpose: 'remote-access' })).status).toBe(
      200,
    );
    expect((await h.verify({ username: 'contractor-1', code: c.body.code, purpose: 'sign' })).body.error).toBe(
      'purpose_not_allowed',
    );

    await createUser(h, 'clinician', { pin: DEFAULT_PIN, policy: 'signers' });
    const s = await h.issueTemporary('clinician', { purposes: ['sign'] });
    expect(s.body.purposes).toEqual(['sign']);
    expect(
      (await h.verify({ username: 'clinician', code: s.body.code, pin: DEFAULT_PIN, purpose: 'logon' })).body.error,
    ).toBe('purpose_not_allowed');
    expect(
      (await h.verify({ username: 'clinician', code: s.body.code, pin: DEFAULT_PIN, purpose: 'sign' })).status,
    ).toBe(200);
  });

  it('concurrent issues for one user all succeed and leave exactly one active code and one live emergency set', async () => {
    await createUser(h, 'kyle', { pin: DEFAULT_PIN });
    const temps = await Promise.all([1, 2, 3].map(() => h.issueTemporary('kyle', { multiUse: true })));
    const sets = await Promise.all([1, 2, 3].map(() => h.issueEmergency('kyle', { count: 2, expiresInHours: 1 })));
    expect([...temps, ...sets].map((r) => r.status)).toEqual([201, 201, 201, 201, 201, 201]);
    const active = await h.server.ctx.db.get<{ n: number }>(
      "SELECT COUNT(*) AS n FROM temporary_codes WHERE revoked_at IS NULL AND used_at IS NULL AND user_id = (SELECT id FROM users WHERE username = 'kyle')",
    );
    const live = await h.server.ctx.db.get<{ n: number }>(
      "SELECT COUNT(*) AS n FROM emergency_sets WHERE voided_at IS NULL AND user_id = (SELECT id FROM users WHERE username = 'kyle')",
    );
    expect([Number(active!.n), Number(live!.n)]).toEqual([1, 1]);
    const working = await Promise.all(
      temps.map(
        async (t) =>
          (await h.verify({ username: 'kyle', code: t.body.code, pin: DEFAULT_PIN, purpose: 'logon' })).status,
      ),
    );
    expect(working.filter((s) => s === 200)).toHaveLength(1);
  });

  it('no code, PIN or seed used above reached the logs, the audit table or the outbox', async () => {
    expect(h.secrets.size).toBeGreaterThan(10);
    expect(await leakedSecrets(h)).toEqual([]);
    const notices = await h.server.ctx.db.all<{ kind: string }>(
      "SELECT kind FROM notifications WHERE username = 'bob'",
    );
    expect(notices.filter((n) => n.kind === 'temporary-code-issued')).toHaveLength(2);
  });
});
