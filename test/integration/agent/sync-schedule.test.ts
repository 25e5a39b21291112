import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../../../src-main/core/agent.js';
import type { HttpFetch } from '../../../src-main/core/ports.js';
import { world, type World } from './harness.js';
import { machine, testKeychain } from './support.js';

let w: World | undefined;
let core: Agent | undefined;
let dir: string | undefined;
afterEach(async () => {
  await core?.close();
  await w?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  core = w = dir = undefined;
});

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('background sync schedule', () => {
  it('keeps syncing after the server refuses one sync, without waiting for a login', async () => {
    w = await world({ autoApprove: true });
    // The real server behind the relay; the HTTP port answers the first sync with a refusal, as a server with a
    // passing problem (or one IT has not fixed yet) would.
    const syncs: number[] = [];
    const refusingOnce: HttpFetch = async (url, init) => {
      if (url.endsWith('/api/v1/devices/sync')) {
        syncs.push(Date.now());
        if (syncs.length === 1) {
          return new Response(JSON.stringify({ error: 'bad_request', message: 'Refused once by the test.' }), {
            status: 400,
            headers: { 'content-type': 'application/json' },
          });
        }
      }
      return fetch(url, init);
    };
    dir = mkdtempSync(path.join(tmpdir(), 'lifeline-agent-sched-'));
    core = await createAgent({
      config: {
        serverUrl: `http://127.0.0.1:${w.relay.port}`,
        enrollmentSecret: w.enrollmentSecret,
        serverKeyFingerprints: w.fingerprints,
        dataDir: dir,
        reachabilityBudgetMs: 2_000,
      },
      keychain: testKeychain(),
      machineId: machine('machine-sched'),
      clock: { now: () => w!.server.clock.now() },
      autoSync: true,
      fetch: refusingOnce,
      syncTiming: { firstRetryMs: 100, maxRetryMs: 400, quietIntervalMs: 300 },
    });

    const first = await core.sync!.runNow();
    expect(first).toMatchObject({ ok: false, error: 'bad_request' });
    expect(core.sync!.lastSyncAt()).toBeNull();

    // No login, no new event, no call from the test: the schedule alone brings the next sync, which succeeds.
    await until(() => core!.sync!.lastSyncAt() !== null, 10_000);
    expect(syncs.length).toBeGreaterThanOrEqual(2);
    expect(syncs[1]! - syncs[0]!).toBeGreaterThanOrEqual(250); // the quiet interval, not an immediate retry
  });
});
