import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../../src-main/core/agent.js';
import { AgentService } from '../../../src-main/core/agent-service.js';
import { pendingEvents } from '../../../src-main/core/outbox.js';
import { ManualClock } from '../../../src-main/core/ports.js';
import { UserRecordSchema } from '../../../src-main/core/user-record.js';
import { computeVerifier } from '../../../src-main/core/verifier-hash.js';
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

let core: Agent;
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
const signIn = (code: string, purpose: 'logon' | 'sign' = 'logon') =>
  dispatchIpc(service, 'agent:login', { username: 'alice', pin: PIN, code, purpose });
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
      expect(answers.filter((a) => !a.ok && (a.error === 'locked' || a.error === 'offline_unavailable'))).toHaveLength(
        50,
      );
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
    const answers = await atOnce(3, () =>
      dispatchIpc(service, 'agent:emergency-submit', { username: 'alice', code: SLOT_CODE }),
    );
    expect(answers.filter((a) => a.ok)).toHaveLength(1);
    expect(answers.filter((a) => !a.ok && a.error === 'invalid_code')).toHaveLength(2);
    expect(events().filter((e) => e.type === 'offline-success')).toHaveLength(1);
    expect(core.store!.verifiers(core.store!.userRef('alice'), 'slot').map((r) => r.position)).toEqual([1]);
  });

  it('a right slot code with purpose sign answers exactly as a wrong one, and both are counted', async () => {
    await setup();
    const right = await signIn(SLOT_CODE, 'sign');
    const wrong = await signIn('7K3MQ9XD2B8V', 'sign');
    expect(right).toEqual({
      ok: false,
      mode: 'offline',
      error: 'invalid_code',
      message: 'The PIN or code is not right.',
      triesLeft: MAX_FAILURES - 1,
    });
    expect(wrong).toEqual({ ...right, triesLeft: MAX_FAILURES - 2 });
    expect(compared()).toBe(2);
    // Nothing was used up: the slot still signs a person in, and a token code may sign.
    expect(await signIn(SLOT_CODE)).toMatchObject({ ok: true, method: 'offline-emergency' });
    expect(await signIn(codeAt(NOW), 'sign')).toMatchObject({ ok: true, method: 'token' });
  });
});

/**
 * What holds beyond this process's queue: the commit re-reads the record and consumes with a guarded delete. The
 * other side here writes the store directly while an attempt hashes (one slot is given a slow verifier so the
 * attempt is surely still hashing), as an agent in another process sharing only the store file would.
 */
describe('the commit re-reads the store, so it holds even for a writer the queue does not see', () => {
  const SLOW = { N: 2 ** 16, r: 8, p: 1 }; // a few hundred milliseconds per hash

  async function slowSlot() {
    const store = core.store!;
    const ref = store.userRef('alice');
    const hash = await computeVerifier(
      { kind: 'slot', position: 0, username: 'alice', deviceId: '0123456789', code: Buffer.from(SLOT_CODE) },
      SLOW,
    );
    await store.commit(() =>
      store.putVerifier(ref, 'slot', 0, { hash: hash.toString('base64url'), scrypt: SLOW, expiresAt: NOW + 90 * DAY }),
    );
    return { store, ref };
  }
  const hashing = () => new Promise((resolve) => setImmediate(resolve));

  it('a slot consumed by the other writer meanwhile is a replay: refused and counted', async () => {
    await setup();
    const { store, ref } = await slowSlot();
    const pending = dispatchIpc(service, 'agent:emergency-submit', { username: 'alice', code: SLOT_CODE });
    await hashing();
    expect(await store.commit(() => store.deleteVerifier(ref, 'slot', 0))).toBe(1);
    expect(await pending).toMatchObject({ ok: false, error: 'invalid_code', triesLeft: MAX_FAILURES - 1 });
    expect(events().filter((e) => e.type === 'offline-success')).toHaveLength(0);
  });

  it('failures the other writer recorded meanwhile are counted on, not overwritten', async () => {
    await setup();
    const { store, ref } = await slowSlot();
    const pending = dispatchIpc(service, 'agent:emergency-submit', { username: 'alice', code: '7K3MQ9XD2B8V' });
    await hashing();
    const record = store.getUser(ref, UserRecordSchema)!;
    await store.commit(() => store.putUser(ref, { ...record, failures: 2 }));
    expect(await pending).toMatchObject({ ok: false, error: 'locked', retryAfterSeconds: 30 });
    expect(store.getUser(ref, UserRecordSchema)).toMatchObject({ failures: 3 });
  });
});
