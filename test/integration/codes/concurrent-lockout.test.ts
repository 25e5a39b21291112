import { describe, expect, it } from 'vitest';
import { useHarness } from '../../helpers/hooks.js';
import type { HttpResult } from '../../helpers/admin.js';
import { startCodesHarness, type CodesHarness } from './harness.js';

const MINUTE = 60_000;
const MAX_FAILURES = 3; // the default policy
let h: CodesHarness;

useHarness('all', startCodesHarness, (started) => (h = started));

async function counted(username: string): Promise<number> {
  const row = await h.server.ctx.db.get<{ n: number | string }>(
    "SELECT COUNT(*) AS n FROM audit WHERE subject = ? AND type = 'verify.attempt' AND reason IN ('wrong_pin_or_code', 'unknown_user')",
    [username],
  );
  return Number(row!.n);
}

/** What a client sees of an answer: status, body and every header but the ones that change per response. */
function seen(r: HttpResult): unknown {
  const headers = Object.fromEntries([...r.headers.entries()].filter(([k]) => !['date', 'x-request-id'].includes(k)));
  return { status: r.status, body: r.body, headers };
}

describe('concurrent attempts of one user and the lockout (issue 11, point 5)', () => {
  it('16 concurrent correct PIN + multi-use temporary code verifications, 4 rounds: never 423, busy ones are 429 and not counted', async () => {
    const u = await h.userWithToken('racer');
    const temp = await h.issueTemporary('racer', { multiUse: true });
    expect(temp.status).toBe(201);
    const body = { username: 'racer', code: temp.body.code, pin: u.pin, purpose: 'logon' };
    const answers: HttpResult[] = [];
    for (let round = 0; round < 4; round++)
      answers.push(...(await Promise.all(Array.from({ length: 16 }, () => h.verify(body)))));

    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 423)).toEqual([]);
    expect(
      statuses.every((s) => s === 200 || s === 429),
      JSON.stringify(statuses),
    ).toBe(true);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(4);
    for (const busy of answers.filter((a) => a.status === 429)) {
      expect(busy.body).toMatchObject({ ok: false, error: 'busy', retryAfterSeconds: 1 });
      expect(busy.headers.get('retry-after')).toBe('1');
    }
    const row = await h.server.ctx.db.get<Record<string, unknown>>(
      'SELECT failures, lock_periods, locked_until, attempts_in_flight FROM users WHERE username = ?',
      ['racer'],
    );
    expect([
      Number(row!.failures),
      Number(row!.lock_periods),
      row!.locked_until,
      Number(row!.attempts_in_flight),
    ]).toEqual([0, 0, null, 0]);
    // A busy answer is "try again": the same request then succeeds.
    expect((await h.verify(body)).status).toBe(200);
  });

  it('40 concurrent wrong attempts: at most maxFailures are compared per lock period, the rest are busy or locked', async () => {
    const u = await h.userWithToken('guesser');
    for (let period = 1; period <= 2; period++) {
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          h.verify({ username: 'guesser', code: String(100000 + i), pin: u.pin, purpose: 'logon' }),
        ),
      );
      const statuses = answers.map((a) => a.status);
      expect(
        statuses.every((s) => s === 401 || s === 429 || s === 423),
        JSON.stringify(statuses),
      ).toBe(true);
      expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(MAX_FAILURES);
      expect(await counted('guesser')).toBeLessThanOrEqual(MAX_FAILURES * period);
      // Sequential wrong attempts finish the period: the lock comes after exactly maxFailures failures.
      while ((await counted('guesser')) < MAX_FAILURES * period) {
        expect((await h.verify({ username: 'guesser', code: '000000', pin: u.pin, purpose: 'logon' })).status).toBe(
          401,
        );
      }
      expect((await h.verify({ username: 'guesser', code: '000000', pin: u.pin, purpose: 'logon' })).status).toBe(423);
      await h.advance(15 * MINUTE);
    }
    const lockouts = await h.server.ctx.db.all(
      "SELECT * FROM audit WHERE subject = 'guesser' AND type = 'verify.lockout'",
    );
    expect(lockouts).toHaveLength(2);
  });

  it('an instance that died with attempts in flight frees their places after the lease', async () => {
    const u = await h.userWithToken('orphan');
    const now = h.server.clock.now();
    // What a SIGKILLed instance leaves: every place taken, never given back.
    await h.server.ctx.db.run('UPDATE users SET attempts_in_flight = ?, in_flight_until = ? WHERE username = ?', [
      MAX_FAILURES,
      now + 60_000,
      'orphan',
    ]);
    h.nextStep();
    const busy = await h.verify({ username: 'orphan', code: h.tokenCode(u.totpSecret), pin: u.pin, purpose: 'logon' });
    expect(busy).toMatchObject({ status: 429, body: { error: 'busy' } });
    h.server.clock.set(now + 61_000);
    h.nextStep();
    expect(
      (await h.verify({ username: 'orphan', code: h.tokenCode(u.totpSecret), pin: u.pin, purpose: 'logon' })).status,
    ).toBe(200);
  });
});

describe('an unknown user at the lockout threshold (issue 11, point 7)', () => {
  it('every one of 4 wrong attempts gets the same status, body and headers for an unknown, an inactive and a known user', async () => {
    const known = await h.userWithToken('known-kim');
    const inactive = await h.userWithToken('gone-gil');
    expect((await h.http('PATCH', '/api/v1/admin/users/gone-gil', { status: 'inactive' })).status).toBe(200);
    for (let i = 1; i <= 5; i++) {
      const k = await h.verify({ username: 'known-kim', code: '000000', pin: known.pin, purpose: 'logon' });
      const u = await h.verify({ username: 'nobody-here', code: '000000', pin: known.pin, purpose: 'logon' });
      const g = await h.verify({ username: 'gone-gil', code: '000000', pin: inactive.pin, purpose: 'logon' });
      expect(seen(u), `attempt ${i}`).toEqual(seen(k));
      expect(seen(g), `attempt ${i}`).toEqual(seen(k));
      expect(k.status).toBe(i <= MAX_FAILURES ? 401 : 423);
    }
    // The lock lifts at the same time for both.
    await h.advance(15 * MINUTE);
    const k = await h.verify({ username: 'known-kim', code: '000000', pin: known.pin, purpose: 'logon' });
    const u = await h.verify({ username: 'Nobody-Here', code: '000000', pin: known.pin, purpose: 'logon' });
    expect(seen(u)).toEqual(seen(k));
    expect(k.status).toBe(401);
  });

  it("concurrent wrong attempts under an unknown name are bounded like a user's; its counter is forgotten a day after", async () => {
    const answers = await Promise.all(
      Array.from({ length: 30 }, () =>
        h.verify({ username: 'ghost-name', code: '123456', pin: 'whatever-1', purpose: 'logon' }),
      ),
    );
    expect(answers.filter((a) => a.status === 401).length).toBeLessThanOrEqual(MAX_FAILURES);
    expect(answers.every((a) => [401, 423, 429].includes(a.status))).toBe(true);
    expect(await counted('ghost-name')).toBeLessThanOrEqual(MAX_FAILURES);
    expect(
      await h.server.ctx.db.get('SELECT username FROM name_lockouts WHERE username = ?', ['ghost-name']),
    ).toBeDefined();
    await h.advance(24 * 60 * MINUTE + 16 * MINUTE);
    const { pruneExpired } = await import('../../../src-server/services/housekeeping.js');
    await pruneExpired(h.server.ctx);
    expect(
      await h.server.ctx.db.get('SELECT username FROM name_lockouts WHERE username = ?', ['ghost-name']),
    ).toBeUndefined();
  });
});
