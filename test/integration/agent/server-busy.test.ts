import { afterEach, describe, expect, it } from 'vitest';
import { defaultAdmissionLimits } from '../../../src-server/services/admission.js';
import { approve, PIN, tokenLogin, tokenVerifiers, world, type World } from './harness.js';

let w: World;
const held: (() => void)[] = [];
afterEach(async () => {
  for (const release of held.splice(0)) release();
  await w?.close();
});

/** Takes every place of the real server's verification gate, as a storm of logins would (src-server/services/admission.ts). */
async function fillGate(world: World): Promise<void> {
  const gate = world.server.app.admission;
  for (let i = 0; i < gate.limits.maxInFlight; i++) {
    const release = await gate.enter();
    if (!release) throw new Error('the gate was full already');
    held.push(release);
  }
}

async function verifyAttempts(world: World): Promise<number> {
  const row = await world.server.ctx.db.get<{ n: number }>(
    "SELECT COUNT(*) AS n FROM audit WHERE type = 'verify.attempt' AND subject = 'alice'",
  );
  return Number(row!.n);
}

describe('agent against a real server that sheds load (503 unavailable)', () => {
  it('a shed login falls back to offline verification within the budget and costs the user nothing on the server; a 401 still refuses', async () => {
    w = await world({ admission: defaultAdmissionLimits() }); // the gate a real instance has
    await tokenLogin(w); // enrolls the device
    await approve(w);
    expect(await tokenLogin(w)).toMatchObject({ ok: true, mode: 'online', method: 'token', preparing: true });
    expect(tokenVerifiers(w.agent)).toBeGreaterThan(0);
    const attemptsBefore = await verifyAttempts(w);
    const shedBefore = w.server.app.admission.stats().shed.waitedTooLong;

    // Every place taken: the agent's login waits in the server's queue, is shed after the wait, and the agent
    // verifies offline with the data it holds, as when the server cannot be reached at all.
    await fillGate(w);
    w.nextStep();
    const code = w.code();
    const started = performance.now();
    const shed = await w.agent.login({ username: 'alice', pin: PIN, code, purpose: 'logon' });
    const elapsed = performance.now() - started;
    expect(shed).toMatchObject({ ok: true, mode: 'offline', method: 'token' });
    expect(elapsed).toBeLessThan(w.agent.config.reachabilityBudgetMs + 500);
    expect(w.server.app.admission.stats().shed.waitedTooLong).toBe(shedBefore + 1);
    // The server decided nothing: no attempt audited, no failure counted against alice.
    expect(await verifyAttempts(w)).toBe(attemptsBefore);
    const user = await w.server.ctx.db.get<{ failures: number }>("SELECT failures FROM users WHERE username = 'alice'");
    expect(Number(user!.failures)).toBe(0);
    // The offline use was durable: the same code is refused offline now.
    expect(await w.agent.login({ username: 'alice', pin: PIN, code, purpose: 'logon' })).toMatchObject({
      ok: false,
      mode: 'offline',
      error: 'invalid_code',
    });

    // With places free again, the server decides, and its refusal is never retried offline.
    for (const release of held.splice(0)) release();
    w.nextStep();
    const wrong = w.code() === '000000' ? '111111' : '000000';
    expect(await w.agent.login({ username: 'alice', pin: PIN, code: wrong, purpose: 'logon' })).toMatchObject({
      ok: false,
      mode: 'online',
      error: 'invalid_code',
    });
    expect(await verifyAttempts(w)).toBe(attemptsBefore + 1);
  });

  it('a login answered busy (other attempts of this user hold every place the lockout allows) is an online refusal: no offline fallback, nothing counted, the code still good', async () => {
    w = await world();
    await tokenLogin(w);
    await approve(w);
    expect(await tokenLogin(w)).toMatchObject({ ok: true, mode: 'online', preparing: true });
    const attemptsBefore = await verifyAttempts(w);
    // Three of alice's attempts in flight elsewhere (the default policy's maxFailures), with a live lease: what a
    // burst of her own logins at other desks leaves for a moment (services/lockout.ts).
    await w.server.ctx.db.run("UPDATE users SET attempts_in_flight = 3, in_flight_until = ? WHERE username = 'alice'", [
      w.server.clock.now() + 60_000,
    ]);
    w.nextStep();
    const code = w.code();
    const busy = await w.agent.login({ username: 'alice', pin: PIN, code, purpose: 'logon' });
    expect(busy).toMatchObject({ ok: false, mode: 'online', error: 'busy' });
    expect(await verifyAttempts(w)).toBe(attemptsBefore); // not compared, not audited
    const user = await w.server.ctx.db.get<{ failures: number }>("SELECT failures FROM users WHERE username = 'alice'");
    expect(Number(user!.failures)).toBe(0);
    // The places come free: the same code, never spent offline, signs in online.
    await w.server.ctx.db.run(
      "UPDATE users SET attempts_in_flight = 0, in_flight_until = NULL WHERE username = 'alice'",
    );
    expect(await w.agent.login({ username: 'alice', pin: PIN, code, purpose: 'logon' })).toMatchObject({
      ok: true,
      mode: 'online',
      method: 'token',
    });
  });
});
