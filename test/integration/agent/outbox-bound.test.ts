import { afterEach, describe, expect, it } from 'vitest';
import { AgentService } from '../../../src-main/core/agent-service.js';
import { appendEvent, MAX_OUTBOX_ROWS } from '../../../src-main/core/outbox.js';
import { approve, PIN, tokenLogin, tokenVerifiers, world, type World } from './harness.js';

/**
 * The outbox is bounded (issue 11, point 16): a prompt stuck on a locked user must not write one row per attempt
 * until the disk is full, and what is not written row by row still reaches the server as a count.
 */
let w: World;
afterEach(async () => {
  await w?.close();
});

async function withOfflineData(): Promise<World> {
  const made = await world();
  await tokenLogin(made);
  await approve(made);
  await tokenLogin(made);
  expect(tokenVerifiers(made.agent)).toBeGreaterThan(0);
  return made;
}

const wrong = () => w.agent.login({ username: 'alice', pin: PIN, code: '000000', purpose: 'logon' });

describe('bounded outbox (real agent core, real keychain, real server)', () => {
  it('a thousand attempts while locked leave a bounded number of rows, and the server learns the count', async () => {
    w = await withOfflineData();
    await w.relay.down();
    let answer = await wrong();
    for (let i = 0; i < 10 && (answer.ok || answer.error !== 'locked'); i++) answer = await wrong();
    expect(answer).toMatchObject({ ok: false, error: 'locked' });
    const before = w.agent.store!.outboxSize();

    for (let i = 0; i < 1000; i++) expect(await wrong()).toMatchObject({ ok: false, mode: 'offline', error: 'locked' });
    // The first attempt while locked is a row as it happened; the 999 repeats wait as one coalesced entry.
    expect(w.agent.store!.outboxSize()).toBe(before + 1);
    const status = await new AgentService(w.agent).status();
    expect(status).toMatchObject({ ok: true, pendingEvents: before + 2 });

    await w.relay.up();
    expect(await w.agent.runSync()).toMatchObject({ ok: true, pendingEvents: 0 });
    const lockedRows = (await w.audit('device.offline-failure')).filter((e) => e.reason === 'locked');
    const counted = lockedRows.reduce((n, e) => n + Number(e.details?.count ?? 1), 0);
    expect(counted).toBe(1000);
    expect(lockedRows.length).toBeLessThanOrEqual(3);
  });

  it('beyond the cap failures are only counted, and the server gets one overflow event with that count', async () => {
    w = await withOfflineData();
    const store = w.agent.store!;
    const now = w.server.clock.now();
    await store.commit(() => {
      for (let i = 0; i < MAX_OUTBOX_ROWS + 25; i++)
        appendEvent(store, now, { type: 'offline-failure', username: 'alice', reason: 'invalid_code' });
    });
    expect(store.outboxSize()).toBe(MAX_OUTBOX_ROWS);
    expect(await w.agent.runSync()).toMatchObject({ ok: true, pendingEvents: 0 });
    const overflow = await w.audit('device.outbox-overflow');
    expect(overflow).toHaveLength(1);
    expect(overflow[0]!.details).toMatchObject({ dropped: 25 });
  });
});
