import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePg } from '../../helpers/engines.js';
import { PIN, startDeployment, type Deployment } from './deployment.js';

/**
 * DESIGN §4 across instances: two servers on one PostgreSQL, requests spread over both, every guarantee held by
 * guarded statements and unique indexes under READ COMMITTED.
 */
describePg('two instances on one PostgreSQL', () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await startDeployment(2);
  });
  afterAll(async () => d?.close());

  it('answers readiness on both instances', async () => {
    for (const s of d.instances) expect((await fetch(`${s.url}/readyz`)).status).toBe(200);
  });

  it('lets exactly one of 200 concurrent verifications of one single-use code succeed', async () => {
    const { username } = await d.userWithToken('race-temp');
    const issued = await d.admin.http('POST', `/api/v1/admin/users/${username}/temporary-code`, { expiresInMinutes: 60, multiUse: false });
    expect(issued.status).toBe(201);
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => d.verifyOn(i, { username, code: issued.body.code, pin: PIN, purpose: 'logon' })),
    );
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    expect(ok[0]!.body).toEqual({ ok: true, method: 'temporary' });
    expect(results.every((r) => [200, 401, 423].includes(r.status))).toBe(true);
    const used = await d.first.ctx.db.all("SELECT used_at FROM temporary_codes WHERE user_id = (SELECT id FROM users WHERE username = ?) AND used_at IS NOT NULL", [username]);
    expect(used).toHaveLength(1);
    const successes = await d.first.ctx.db.all("SELECT id FROM audit WHERE subject = ? AND type LIKE 'verify%' AND outcome = 'success'", [username]);
    expect(successes).toHaveLength(1);
  });

  it('accepts one token code once when 100 verifications race on both instances', async () => {
    const { username, totpSecret } = await d.userWithToken('race-token');
    d.nextStep();
    const code = d.tokenCode(totpSecret);
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => d.verifyOn(i, { username, code, pin: PIN, purpose: 'logon' })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    const successes = await d.first.ctx.db.all("SELECT id FROM audit WHERE subject = ? AND type LIKE 'verify%' AND outcome = 'success'", [username]);
    expect(successes).toHaveLength(1);
  });

  it('locks after 3 failures split across the instances', async () => {
    const { username, totpSecret } = await d.userWithToken('split-failures');
    d.nextStep();
    for (let i = 0; i < 3; i++) {
      const r = await d.verifyOn(i, { username, code: '000000', pin: PIN, purpose: 'logon' });
      expect(r.status).toBe(401);
    }
    // The right code, on the other instance, is refused: the lock holds everywhere.
    const right = await d.verifyOn(1, { username, code: d.tokenCode(totpSecret), pin: PIN, purpose: 'logon' });
    expect(right.status).toBe(423);
    expect(right.body.error).toBe('locked');
    const other = await d.verifyOn(0, { username, code: d.tokenCode(totpSecret), pin: PIN, purpose: 'logon' });
    expect(other.status).toBe(423);
  });

  it('keeps one audit chain across both instances', async () => {
    const report = await d.auditChain();
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.rows).toBeGreaterThan(300);
  });
});
