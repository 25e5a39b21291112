import { afterEach, describe, expect, it } from 'vitest';
import type { AgentCore } from '../../../src-main/core/agent-core.js';
import { AgentService } from '../../../src-main/core/agent-service.js';
import { pendingEvents } from '../../../src-main/core/outbox.js';
import { ManualClock } from '../../../src-main/core/ports.js';
import { dispatchIpc } from '../../../src-shared/ipc.js';
import { tempDir } from '../../helpers/tmp.js';
import { codeAt, NOW, seedUser, startAgent, stepAt, testKeychain } from './support.js';

/**
 * Offline verification under real concurrency: many sign-ins at once through the IPC door both shells share
 * (dispatchIpc on the AgentService), against the real core, store and keychain, with the server down.
 */

const PIN = '246810';
const SLOT_CODE = '7K3MQ9XD2B8T';
const OTHER_SLOT = 'ZZZZZZZZZZZZ';
const DAY = 24 * 60 * 60 * 1000;
const MAX_FAILURES = 10;

let core: AgentCore;
let clock: ManualClock;
let service: AgentService;
let cleanup: () => void;

async function setup() {
  const t = tempDir('lifeline-agent-races-');
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
      { index: 1, code: OTHER_SLOT, expiresAt: NOW + 90 * DAY },
    ],
    maxOfflineFailures: MAX_FAILURES,
  });
  service = new AgentService(core);
}

afterEach(async () => {
  await core?.close();
  cleanup?.();
});

const atOnce = <T>(n: number, f: () => Promise<T>) => Promise.all(Array.from({ length: n }, f));
const signIn = (code: string, purpose: 'logon' | 'sign' = 'logon') => dispatchIpc(service, 'agent:login', { username: 'alice', pin: PIN, code, purpose });
const events = () => pendingEvents(core.store!, 100_000);
/** Guesses actually compared: each one is recorded as an `invalid_code` failure (a refusal while locked is `locked`). */
const compared = () => events().filter((e) => e.type === 'offline-failure' && e.reason === 'invalid_code').length;

describe('offline verification is serialised per user', () => {
  it('50 wrong guesses at once compare only what the lock allows, and the wipe comes after maxOfflineFailures of them', async () => {
    await setup();
    const wrong = codeAt(NOW) === '000000' ? '111111' : '000000';
    const first = await atOnce(50, () => signIn(wrong));
    // Two free failures, the third starts a 30 s lock, and every other attempt meets that lock uncompared.
    expect(first.filter((a) => !a.ok && a.error === 'invalid_code')).toHaveLength(2);
    expect(first.filter((a) => !a.ok && a.error === 'locked')).toHaveLength(48);
    expect(compared()).toBe(3);

    // Each lock period lets exactly one more guess through, until the wipe.
    let batches = 1;
    while (core.store!.getUser(core.store!.userRef('alice')) && batches < 2 * MAX_FAILURES) {
      clock.advance(61 * 60_000); // past the longest lock (an hour)
      const before = compared();
      const answers = await atOnce(50, () => signIn(wrong));
      batches++;
      expect(compared() - before).toBe(1);
      // The others meet the lock that guess started, or the wipe it caused.
      expect(answers.filter((a) => !a.ok && (a.error === 'locked' || a.error === 'offline_unavailable'))).toHaveLength(50);
    }
    expect(compared()).toBe(MAX_FAILURES);
    expect(batches).toBe(MAX_FAILURES - 2);
    expect(events().filter((e) => e.type === 'offline-wipe')).toHaveLength(1);
    // The right code, sent after the wipe, finds nothing to match.
    expect(await signIn(codeAt(clock.now()))).toMatchObject({ ok: false, error: 'offline_unavailable' });
  });

  it('one right token code sent 3 times at once is accepted once; the others are failures', async () => {
    await setup();
    const code = codeAt(NOW);
    const answers = await atOnce(3, () => signIn(code));
    expect(answers.filter((a) => a.ok)).toHaveLength(1);
    expect(answers.filter((a) => !a.ok && a.error === 'invalid_code')).toHaveLength(2);
    expect(events().filter((e) => e.type === 'offline-success')).toHaveLength(1);
    expect(compared()).toBe(2);
  });

  it('one emergency slot code sent 3 times at once is accepted once, and only its slot is used', async () => {
    await setup();
    const answers = await atOnce(3, () => dispatchIpc(service, 'agent:emergency-submit', { username: 'alice', code: SLOT_CODE }));
    expect(answers.filter((a) => a.ok)).toHaveLength(1);
    expect(answers.filter((a) => !a.ok && a.error === 'invalid_code')).toHaveLength(2);
    expect(events().filter((e) => e.type === 'offline-success')).toHaveLength(1);
    expect(core.store!.verifiers(core.store!.userRef('alice'), 'slot').map((r) => r.position)).toEqual([1]);
  });

  it('a right slot code with purpose sign answers exactly as a wrong one, and both are counted', async () => {
    await setup();
    const right = await signIn(SLOT_CODE, 'sign');
    const wrong = await signIn('7K3MQ9XD2B8V', 'sign');
    expect(right).toEqual({ ok: false, mode: 'offline', error: 'invalid_code', message: 'The PIN or code is not right.', triesLeft: MAX_FAILURES - 1 });
    expect(wrong).toEqual({ ...right, triesLeft: MAX_FAILURES - 2 });
    expect(compared()).toBe(2);
    // Nothing was used up: the slot still signs a person in, and a token code may sign.
    expect(await signIn(SLOT_CODE)).toMatchObject({ ok: true, method: 'offline-emergency' });
    expect(await signIn(codeAt(NOW), 'sign')).toMatchObject({ ok: true, method: 'token' });
  });
});
