import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oathtool } from '../../helpers/oathtool.js';
import { tempDir } from '../../helpers/tmp.js';

/**
 * `npm start` as a new user meets it (scripts/start.ts, run as a real process): a taken port names the option that
 * picks another, and the admin's printed `oathtool` code signs in right after start, because start leaves the
 * current TOTP step to the person. The agent runs without a Secret Service here on purpose (no D-Bus address), so
 * the run also prints the throwaway-keyring command, which must carry a free port too.
 */
const ROOT = path.resolve(import.meta.dirname, '../../..');
/** Start builds the web bundles and starts the server and an agent: seconds on a quiet machine, more on a busy one. */
const START_BUDGET_MS = 150_000;

interface Run {
  code: number | null;
  output: string;
}

function runStart(args: string[], until: (output: string) => boolean): Promise<Run & { stop: () => Promise<Run> }> {
  const env: NodeJS.ProcessEnv = { ...process.env, LIFELINE_LOG_LEVEL: 'warn' };
  delete env.DBUS_SESSION_BUS_ADDRESS;
  const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['scripts/start.ts', ...args], {
    cwd: ROOT,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<Run>((resolve) => child.once('exit', (code) => resolve({ code, output })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`npm start did not get there in time; it printed:\n${output}`)),
      START_BUDGET_MS,
    );
    const stop = async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    };
    const check = () => {
      if (until(output)) {
        clearTimeout(timer);
        resolve({ code: child.exitCode, output, stop });
      }
    };
    child.stdout.on('data', (d) => ((output += String(d)), check()));
    child.stderr.on('data', (d) => ((output += String(d)), check()));
    void exited.then(() => {
      clearTimeout(timer);
      resolve({ code: child.exitCode, output, stop });
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe('npm start', () => {
  let holder: Server;
  let takenPort: number;
  beforeAll(async () => {
    holder = createServer();
    await new Promise<void>((ok) => holder.listen(0, '127.0.0.1', ok));
    takenPort = (holder.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((ok) => holder.close(() => ok())));

  it('on a taken port stops at once and names the option that picks another', async () => {
    const data = tempDir('lifeline-start-');
    try {
      const run = await runStart(['--port', String(takenPort), '--data', data.dir], () => false);
      expect(run.code).not.toBe(0);
      expect(run.output).toContain(`port ${takenPort} is taken`);
      expect(run.output).toContain(`npm start -- --port ${takenPort + 1}`);
    } finally {
      data.cleanup();
    }
  });

  it('refuses a port that is not a number with a clear message', async () => {
    const run = await runStart(['--port', 'eighty'], () => false);
    expect(run.code).toBe(2);
    expect(run.output).toContain('--port must be a port number from 1 to 65535 (got "eighty")');
  });

  it(
    "leaves the current TOTP step to the person: the printed admin's code signs in right after start",
    async () => {
      const data = tempDir('lifeline-start-');
      const port = await freePort();
      const run = await runStart(['--port', String(port), '--data', data.dir], (out) =>
        out.includes('Press Ctrl+C to stop.'),
      );
      try {
        expect(run.output).toContain('Lifeline is running.');
        // No Secret Service in this process: the printed throwaway-keyring command must not collide with this run.
        expect(run.output).toContain(
          `bash scripts/with-throwaway-keyring.sh npm start -- --demo --data ./data-trial --port ${port + 1}`,
        );
        const admin = JSON.parse(readFileSync(path.join(data.dir, 'dev-admin.json'), 'utf8')) as {
          username: string;
          password: string;
          totpSecret: string;
        };
        const res = await fetch(`http://127.0.0.1:${port}/api/v1/admin/sessions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            username: admin.username,
            password: admin.password,
            otp: oathtool(admin.totpSecret, Date.now()),
          }),
        });
        expect(res.status).toBe(200);
      } finally {
        await run.stop();
        data.cleanup();
      }
    },
    START_BUDGET_MS + 30_000,
  );
});
