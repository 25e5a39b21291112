import { spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgent } from '../../../src-main/core/agent.js';
import { ManualClock } from '../../../src-main/core/ports.js';
import { tempDir } from '../../helpers/tmp.js';
import { agentDeps, codeAt, NOW, seedUser, startAgent, stepAt, testKeychain } from './support.js';

const PIN = '246810';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('agent core under a crash and a silent server', () => {
  it('a child agent SIGKILLed right after accepting a code cannot accept it again after restart', async () => {
    const t = tempDir('lifeline-agent-kill-');
    cleanups.push(t.cleanup);
    const keychain = testKeychain();
    const at = NOW + 30_000;
    const seeding = await startAgent(t.dir, keychain, { clock: new ManualClock(NOW) });
    await seedUser(seeding.store!, keychain, { username: 'alice', pin: PIN, from: stepAt(NOW) - 1, windows: 6 });
    await seeding.close();
    const code = codeAt(at);

    const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'child-agent.ts')], {
      env: {
        ...process.env,
        AGENT_DATA_DIR: t.dir,
        AGENT_KEYCHAIN_SERVICE: keychain.service,
        AGENT_NOW: String(at),
        AGENT_PIN: PIN,
        AGENT_CODE: code,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (chunk: Buffer) => {
        buf += chunk.toString();
        if (buf.includes('\n')) {
          child.kill('SIGKILL'); // at once: no chance to flush or clean up anything after the answer
          resolve(buf.split('\n')[0]!);
        }
      });
      child.on('exit', (codeNum) => reject(new Error(`child exited early (${codeNum})`)));
    });
    await new Promise((r) => child.once('exit', r));
    expect(JSON.parse(line)).toEqual({ ok: true, mode: 'offline' });
    expect(child.signalCode).toBe('SIGKILL');

    const restarted = await startAgent(t.dir, keychain, { clock: new ManualClock(at) }); // takes over the stale lock
    cleanups.push(() => restarted.close());
    expect(restarted.store!.rolledBack).toBe(false);
    expect(await restarted.login({ username: 'alice', pin: PIN, code, purpose: 'logon' })).toMatchObject({
      ok: false,
      mode: 'offline',
      error: 'invalid_code',
    });
  });

  it('decides offline within the budget plus half a second when the server accepts connections and never answers', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s)); // accepts, reads nothing, answers nothing
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          sockets.forEach((s) => s.destroy());
          silent.close(() => r());
        }),
    );
    const port = (silent.address() as { port: number }).port;

    const t = tempDir('lifeline-agent-silent-');
    cleanups.push(t.cleanup);
    const keychain = testKeychain();
    const core = await createAgent(
      agentDeps(t.dir, keychain, { serverUrl: `http://127.0.0.1:${port}`, clock: new ManualClock(NOW) }),
    );
    cleanups.push(() => core.close());
    await seedUser(core.store!, keychain, { username: 'alice', pin: PIN, from: stepAt(NOW) - 1, windows: 4 });

    const started = performance.now();
    const result = await core.login({ username: 'alice', pin: PIN, code: codeAt(NOW), purpose: 'logon' });
    const elapsed = performance.now() - started;
    expect(result).toMatchObject({ ok: true, mode: 'offline' });
    expect(sockets.length).toBeGreaterThan(0); // the connection was accepted: this is the silent case, not a refusal
    expect(elapsed).toBeLessThan(core.config.reachabilityBudgetMs + 500);
    expect(elapsed).toBeGreaterThanOrEqual(core.config.reachabilityBudgetMs - 50);
  });
});
