import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgent } from '../../../src-main/core/agent.js';
import { AgentService } from '../../../src-main/core/agent-service.js';
import { KEYCHAIN } from '../../../src-main/core/store/store.js';
import { STORE_FILE } from '../../../src-main/core/store/files.js';
import { approve, PIN, world, type World } from './harness.js';
import { machine } from './support.js';

/**
 * A damaged store turns offline mode off and nothing else (issue 11, point 14): online sign-in keeps working as the
 * same device, the status says what to do with a stable code, and a reset sets the files aside (kept for IT) and
 * starts a new store that reports the loss. Taking over a stale lock is atomic, raced here by real processes.
 */
let w: World;
const cleanups: (() => void)[] = [];
afterEach(async () => {
  while (cleanups.length) cleanups.pop()!();
  await w?.close();
});

const storePath = () => path.join(w.dataDir, STORE_FILE);
const online = () => {
  w.nextStep();
  return w.agent.login({ username: 'alice', pin: PIN, code: w.code(), purpose: 'logon' });
};

/** Makes a file read-only even for root (the immutable flag), or by its mode for anyone else. */
function readOnly(file: string): () => void {
  if (process.getuid?.() === 0) {
    execFileSync('chattr', ['+i', file]);
    return () => execFileSync('chattr', ['-i', file]);
  }
  chmodSync(file, 0o400);
  return () => chmodSync(file, 0o600);
}

async function approvedWorld(): Promise<{ deviceId: string }> {
  w = await world();
  expect(await online()).toMatchObject({ ok: true, mode: 'online' });
  await approve(w);
  expect(await online()).toMatchObject({ ok: true, mode: 'online' });
  await w.agent.whenIdle();
  return { deviceId: w.agent.device().deviceId! };
}

const DAMAGES: { name: string; code: string; damage: () => Promise<(() => void) | void> }[] = [
  {
    name: 'a corrupt file',
    code: 'store_damaged',
    damage: async () => {
      const bytes = readFileSync(storePath());
      bytes.fill(0x5a, 0, 100); // the header
      writeFileSync(storePath(), bytes);
    },
  },
  { name: 'a truncated file', code: 'store_damaged', damage: async () => truncateSync(storePath(), 8192) },
  { name: 'a read-only file', code: 'store_damaged', damage: async () => readOnly(storePath()) },
  {
    name: 'a missing keychain data key',
    code: 'store_tampered',
    damage: async () => void (await w.keychain.delete(KEYCHAIN.dataKey)),
  },
  {
    name: 'a missing keychain state counter',
    code: 'store_tampered',
    damage: async () => void (await w.keychain.delete(KEYCHAIN.counter)),
  },
];

describe('a damaged store does not take online sign-in down (real agent core, real keychain, real server)', () => {
  for (const { name, code, damage } of DAMAGES) {
    it(`${name}: online works as the same device, the status says what to do, a reset keeps the evidence`, async () => {
      const { deviceId } = await approvedWorld();
      await w.agent.close();
      for (const suffix of ['-wal', '-shm']) expect(existsSync(storePath() + suffix)).toBe(false);
      const undo = await damage();
      const damaged = readFileSync(storePath());

      const agent = await w.restartAgent();
      const service = new AgentService(agent);
      const status = await service.status();
      expect(status).toMatchObject({ ok: true, offline: { available: false, reason: code, resettable: true } });
      if (!status.ok) throw new Error('unreachable');
      expect(status.offline.message).toMatch(/Online sign-in still works.*reset the offline data/);

      expect(await online()).toMatchObject({ ok: true, mode: 'online', method: 'token' });
      expect(agent.device()).toMatchObject({ deviceId, status: 'approved' });
      await w.relay.down();
      expect(await online()).toMatchObject({ ok: false, mode: 'offline', error: code });
      await w.relay.up();

      undo?.(); // IT made the file writable again, or not: either way the reset moves it aside
      const reset = await service.resetStore();
      expect(reset).toMatchObject({ ok: true });
      if (!reset.ok || !reset.setAsideTo) throw new Error('nothing was set aside');
      expect(readFileSync(path.join(reset.setAsideTo, STORE_FILE)).equals(damaged)).toBe(true);
      expect(await service.status()).toMatchObject({ ok: true, offline: { available: true } });

      expect(await online()).toMatchObject({ ok: true, mode: 'online' });
      expect(agent.device()).toMatchObject({ deviceId, status: 'approved' });
      expect(await agent.runSync()).toMatchObject({ ok: true });
      expect(await w.audit('device.store-lost')).toMatchObject([{ device: deviceId, reason: 'reset' }]);
      expect((await w.h.http('GET', '/api/v1/admin/devices')).body.devices).toHaveLength(1);
    });
  }

  it('device keys missing from the keychain: online still works (as a new device), offline is off until a reset', async () => {
    await approvedWorld();
    await w.agent.close();
    await w.keychain.delete(KEYCHAIN.deviceSign);
    const agent = await w.restartAgent();
    expect(agent.offlineError?.code).toBe('store_tampered');
    expect(await online()).toMatchObject({ ok: true, mode: 'online' });
    // The next start still knows the store's device is not the keychain's.
    expect((await w.restartAgent()).offlineError?.code).toBe('store_tampered');
    expect(await new AgentService(w.agent).resetStore()).toMatchObject({ ok: true });
    expect(w.agent.offlineError).toBeNull();
    expect(await online()).toMatchObject({ ok: true, mode: 'online' });
  });

  it('a stale lock naming a live unrelated process is taken over: offline mode stays on', async () => {
    await approvedWorld();
    await w.agent.close();
    const unrelated = spawn('sleep', ['60'], { stdio: 'ignore' });
    cleanups.push(() => unrelated.kill('SIGKILL'));
    await new Promise((resolve) => unrelated.once('spawn', resolve));
    const lock = `${storePath()}.lock`;
    writeFileSync(lock, String(unrelated.pid)); // as an agent that crashed before the reboot left it
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(lock, hourAgo, hourAgo);

    const agent = await w.restartAgent();
    expect(agent.offlineError).toBeNull();
    expect(agent.store).not.toBeNull();
    expect(await online()).toMatchObject({ ok: true, mode: 'online' });
  });

  it('a live agent holding the store is not taken over: the second one is online-only and says why', async () => {
    await approvedWorld();
    // A second core on the same folder and keychain, while the first runs.
    const core = await createAgent({
      config: {
        serverUrl: `http://127.0.0.1:${w.relay.port}`,
        enrollmentSecret: w.enrollmentSecret,
        serverKeyFingerprints: w.fingerprints,
        dataDir: w.dataDir,
        reachabilityBudgetMs: 2_000,
      },
      keychain: w.keychain,
      machineId: machine('machine-a'),
      clock: { now: () => w.server.clock.now() },
      autoSync: false,
    });
    cleanups.push(() => void core.close());
    expect(core.offlineError?.code).toBe('store_busy');
    expect(core.offlineError?.message).toContain(`process ${process.pid}`);
    w.nextStep();
    expect(await core.login({ username: 'alice', pin: PIN, code: w.code(), purpose: 'logon' })).toMatchObject({
      ok: true,
      mode: 'online',
    });
    expect(await new AgentService(core).resetStore()).toMatchObject({ ok: false, error: 'store_busy' });
  });
});

describe('stale lock takeover is atomic', () => {
  it('processes racing for the same stale locks: exactly one takes each', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lifeline-lock-race-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const rounds = 15;
    const racers = 4;
    // Stale: the pid of a process that has exited.
    const dead = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await new Promise((resolve) => dead.once('exit', resolve));
    for (let r = 0; r < rounds; r++) writeFileSync(path.join(dir, `lock-${r}`), String(dead.pid));

    const startAt = Date.now() + 4_000; // every racer has loaded by then, even on a busy machine
    const children = Array.from({ length: racers }, () =>
      spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'lock-racer.ts')], {
        env: {
          ...process.env,
          RACE_DIR: dir,
          RACE_ROUNDS: String(rounds),
          RACE_START_AT: String(startAt),
          RACE_SPACING_MS: '150',
        },
        stdio: ['pipe', 'pipe', 'inherit'],
      }),
    );
    const outputs = await Promise.all(
      children.map(
        (child) =>
          new Promise<{ round: number; acquired: boolean }[]>((resolve, reject) => {
            let out = '';
            child.stdout.on('data', (d: Buffer) => {
              out += d.toString();
              if (out.includes('\n')) resolve(JSON.parse(out) as { round: number; acquired: boolean }[]);
            });
            child.once('exit', (c) => reject(new Error(`racer exited with ${c} before answering`)));
          }),
      ),
    );
    for (const child of children) child.stdin.end();
    await Promise.all(
      children.map(
        (child) => new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve))),
      ),
    );
    for (let r = 0; r < rounds; r++) {
      const winners = outputs.filter((o) => o.find((x) => x.round === r)?.acquired).length;
      expect(winners, `round ${r}`).toBe(1);
    }
  }, 60_000);
});
