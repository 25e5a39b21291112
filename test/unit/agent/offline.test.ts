import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../../src-main/core/agent.js';
import { AgentService } from '../../../src-main/core/agent-service.js';
import { pendingEvents } from '../../../src-main/core/outbox.js';
import { ManualClock } from '../../../src-main/core/ports.js';
import { dispatchIpc } from '../../../src-shared/ipc.js';
import { decodeEmergencyRequest } from '../../../src-shared/protocol/index.js';
import { tempDir } from '../../helpers/tmp.js';
import { codeAt, NOW, seedUser, startAgent, stepAt, testKeychain } from '../../integration/agent/support.js';

const PIN = '246810';
const SLOT_CODE = '7K3MQ9XD2B8T';
const DAY = 24 * 60 * 60 * 1000;

let core: Agent;
let clock: ManualClock;
let cleanup: () => void;

async function setup(opts: { maxOfflineFailures?: number } = {}) {
  const t = tempDir('lifeline-agent-offline-');
  cleanup = t.cleanup;
  clock = new ManualClock(NOW);
  const keychain = testKeychain();
  core = await startAgent(t.dir, keychain, { clock });
  await seedUser(core.store!, keychain, {
    username: 'alice',
    pin: PIN,
    from: stepAt(NOW) - 1,
    windows: 12,
    slots: [
      { index: 0, code: SLOT_CODE, expiresAt: NOW + 90 * DAY },
      { index: 1, code: 'ZZZZZZZZZZZZ', expiresAt: NOW + 90 * DAY },
    ],
    ...(opts.maxOfflineFailures ? { maxOfflineFailures: opts.maxOfflineFailures } : {}),
  });
}

const login = (code: string, pin = PIN, username = 'alice') => core.login({ username, pin, code, purpose: 'logon' });
const events = () => pendingEvents(core.store!, 1000);

afterEach(async () => {
  await core?.close();
  cleanup?.();
});

describe('offline verification (real keychain, real store, oathtool codes, server down)', () => {
  beforeEach(() => setup());

  it('accepts the current window once, then refuses it and every earlier window', async () => {
    clock.set(NOW + 60_000); // two windows later
    const now = await login(codeAt(clock.now()));
    expect(now).toMatchObject({ ok: true, mode: 'offline', method: 'token', username: 'alice' });
    expect(await login(codeAt(clock.now()))).toMatchObject({ ok: false, mode: 'offline', error: 'invalid_code' });
    expect(await login(codeAt(clock.now() - 30_000))).toMatchObject({ ok: false, error: 'invalid_code' });
    clock.advance(30_000);
    expect(await login(codeAt(clock.now()))).toMatchObject({ ok: true, method: 'token' });
    const successes = events().filter((e) => e.type === 'offline-success');
    expect(successes.map((e) => (e.type === 'offline-success' ? e.step : null))).toEqual([
      stepAt(NOW + 60_000),
      stepAt(NOW + 90_000),
    ]);
  });

  it('takes a right code with a wrong PIN as a failure that burns nothing', async () => {
    const code = codeAt(clock.now());
    expect(await login(code, '999999')).toMatchObject({ ok: false, error: 'invalid_code', triesLeft: 9 });
    expect(await login(code)).toMatchObject({ ok: true, method: 'token' });
  });

  it('accepts a case-normalised emergency slot code without the PIN, once, and shows the request for the next slot', async () => {
    const before = core.emergencyRequest('Alice');
    expect(before).toMatchObject({ ok: true, username: 'alice', slotsLeft: 2 });
    const decoded = decodeEmergencyRequest(before.ok ? before.request : '');
    expect(decoded).toMatchObject({ ok: true, request: { deviceId: '0123456789', slot: 0 } });
    expect(await core.emergencySubmit({ username: 'alice', code: '7k3m-q9xd-2b8t' })).toMatchObject({
      ok: true,
      mode: 'offline',
      method: 'offline-emergency',
    });
    expect(await core.emergencySubmit({ username: 'alice', code: SLOT_CODE })).toMatchObject({
      ok: false,
      error: 'invalid_code',
    });
    const after = core.emergencyRequest('alice');
    expect(after.ok && decodeEmergencyRequest(after.request)).toMatchObject({ ok: true, request: { slot: 1 } });
    expect(events().find((e) => e.type === 'offline-success')).toMatchObject({ method: 'offline-emergency', slot: 0 });
  });

  it('refuses token codes once the clock is set back past the high-water mark, and reports it once', async () => {
    clock.set(NOW + 5 * 60_000);
    expect(await login(codeAt(clock.now()))).toMatchObject({ ok: true });
    clock.set(NOW - 60 * 60_000);
    expect(await login(codeAt(clock.now()))).toMatchObject({ ok: false, error: 'offline_refused' });
    expect(await login(codeAt(clock.now()))).toMatchObject({ ok: false, error: 'offline_refused' });
    expect(events().filter((e) => e.type === 'clock-rollback')).toHaveLength(1);
    // The emergency slot does not depend on the clock's direction.
    expect(await core.emergencySubmit({ username: 'alice', code: SLOT_CODE })).toMatchObject({ ok: true });
  });

  it('refuses offline logins past the maximum days without contact', async () => {
    clock.set(NOW + 15 * DAY);
    expect(await login(codeAt(clock.now()))).toMatchObject({ ok: false, error: 'offline_refused' });
  });

  it('answers through the IPC contract with no PIN, code or key in any answer', async () => {
    const service = new AgentService(core);
    const code = codeAt(clock.now());
    const answers = [
      await dispatchIpc(service, 'agent:login', { username: 'alice', pin: PIN, code }),
      await dispatchIpc(service, 'agent:login', { username: 'alice', pin: PIN, code }),
      await dispatchIpc(service, 'agent:status', {}),
      await dispatchIpc(service, 'agent:emergency-request', { username: 'alice' }),
      await dispatchIpc(service, 'agent:config', {}),
    ];
    expect(answers[0]).toMatchObject({ ok: true, mode: 'offline', method: 'token', emergencySlotsLeft: 2 });
    expect(answers[1]).toMatchObject({ ok: false, error: 'invalid_code', mode: 'offline' });
    expect(answers[2]).toMatchObject({
      ok: true,
      offline: { available: true },
      users: [{ username: 'alice', emergencySlotsLeft: 2 }],
    });
    const text = JSON.stringify(answers);
    for (const secret of [PIN, code, SLOT_CODE, 'hash', 'privateKey', 'verifier']) expect(text).not.toContain(secret);
  });
});

describe('offline lockout and wipe', () => {
  beforeEach(() => setup({ maxOfflineFailures: 6 }));

  it('locks with growing delays, wipes the user at the maximum, and records all of it in the outbox', async () => {
    const wrong = '000000' === codeAt(clock.now()) ? '111111' : '000000';
    expect(await login(wrong)).toMatchObject({ error: 'invalid_code', triesLeft: 5 });
    expect(await login(wrong)).toMatchObject({ error: 'invalid_code', triesLeft: 4 });
    const third = await login(wrong);
    expect(third).toMatchObject({ ok: false, error: 'locked', retryAfterSeconds: 30 });
    // While locked even the right code is refused, and the attempt is recorded.
    expect(await login(codeAt(clock.now()))).toMatchObject({ error: 'locked' });
    clock.advance(31_000);
    expect(await login(wrong)).toMatchObject({ error: 'locked', retryAfterSeconds: 60 });
    clock.advance(61_000);
    expect(await login(wrong)).toMatchObject({ error: 'locked', retryAfterSeconds: 120 });
    clock.advance(121_000);
    expect(await login(wrong)).toMatchObject({ error: 'offline_unavailable' });
    expect(await login(codeAt(clock.now()))).toMatchObject({ error: 'offline_unavailable' });
    const types = events().map((e) => e.type);
    expect(types.filter((t) => t === 'offline-failure')).toHaveLength(7);
    expect(types.filter((t) => t === 'offline-lockout')).toHaveLength(3);
    expect(types.at(-1)).toBe('offline-wipe');
    expect(core.store!.countVerifiers(core.store!.userRef('alice'), 'token')).toBe(0);
  });
});
