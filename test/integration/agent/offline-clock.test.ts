import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../../src-main/core/agent.js';
import type { OsKeychain } from '../../../src-main/core/keychain.js';
import { AgentService } from '../../../src-main/core/agent-service.js';
import { ManualClock } from '../../../src-main/core/ports.js';
import { tempDir } from '../../helpers/tmp.js';
import { codeAt, NOW, seedUser, startAgent, stepAt, testKeychain } from './support.js';

/**
 * Offline locks and the days without contact against a workstation clock someone moves. The agent core's clock
 * is a ManualClock: `advance` is time passing (wall and monotonic readings move), `set` is the wall clock changed.
 */

const PIN = '246810';
const SLOT_CODES = ['7K3MQ9XD2B8T', 'ZZZZZZZZZZZZ', 'AAAAAAAAAAAA'];
const DAY = 24 * 60 * 60 * 1000;

let core: Agent;
let clock: ManualClock;
let keychain: OsKeychain;
let dir: string;
let cleanup: () => void;

async function setup() {
  const t = tempDir('lifeline-agent-clock-');
  cleanup = t.cleanup;
  dir = t.dir;
  clock = new ManualClock(NOW);
  keychain = testKeychain();
  core = await startAgent(dir, keychain, { clock });
  await seedUser(core.store!, keychain, {
    username: 'alice',
    pin: PIN,
    from: stepAt(NOW) - 1,
    windows: 4,
    slots: SLOT_CODES.map((code, index) => ({ index, code, expiresAt: NOW + 90 * DAY })),
    maxDaysWithoutContact: 14,
  });
}

afterEach(async () => {
  await core?.close();
  cleanup?.();
});

const wrong = () => (codeAt(clock.now()) === '000000' ? '111111' : '000000');
const login = (code: string) => core.login({ username: 'alice', pin: PIN, code, purpose: 'logon' });
const slot = (i: number) => core.emergencySubmit({ username: 'alice', code: SLOT_CODES[i]! });

async function lockAlice() {
  await login(wrong());
  await login(wrong());
  expect(await login(wrong())).toMatchObject({ ok: false, error: 'locked', retryAfterSeconds: 30 });
}

describe('offline locks do not lift when the clock is set forward', () => {
  it('a lock holds its 30 s on the monotonic clock, however far the wall clock moves', async () => {
    await setup();
    await lockAlice();
    clock.set(clock.now() + 2 * 60 * 60_000); // someone sets the clock two hours ahead
    expect(await slot(0)).toMatchObject({ ok: false, error: 'locked' });
    const status = await new AgentService(core).status();
    expect(status.ok && status.users[0]?.lockedUntil).toBe(clock.now() + 30_000); // the status view says the same
    clock.advance(20_000);
    const still = await slot(0);
    expect(still).toMatchObject({ ok: false, error: 'locked', retryAfterSeconds: 10 });
    clock.advance(10_000);
    expect(await slot(0)).toMatchObject({ ok: true, method: 'offline-emergency' });
  });

  it('after a restart a lock counts in full again: the time the agent did not see is not taken from the wall clock', async () => {
    await setup();
    await lockAlice();
    await core.close();
    clock.set(clock.now() + 24 * 60 * 60_000);
    core = await startAgent(dir, keychain, { clock });
    expect(await slot(0)).toMatchObject({ ok: false, error: 'locked', retryAfterSeconds: 30 });
    clock.advance(30_000);
    expect(await slot(0)).toMatchObject({ ok: true });
  });
});

describe('the days without contact do not grow back when the clock is set back', () => {
  it('a refusal past the maximum stays a refusal after the clock is set back', async () => {
    await setup();
    clock.advance(15 * DAY);
    expect(await slot(0)).toMatchObject({ ok: false, error: 'offline_refused' });
    clock.set(NOW + 5 * DAY);
    expect(await slot(0)).toMatchObject({ ok: false, error: 'offline_refused' });
  });

  it('time that passes after the clock was set back still counts', async () => {
    await setup();
    clock.advance(13 * DAY);
    expect(await slot(0)).toMatchObject({ ok: true });
    clock.set(NOW + 2 * DAY); // eleven days back
    expect(await slot(1)).toMatchObject({ ok: true }); // 13 days by the high-water mark: still allowed
    clock.advance(2 * DAY); // the wall clock says day 4; it is day 15
    expect(await slot(2)).toMatchObject({ ok: false, error: 'offline_refused' });
  });
});
