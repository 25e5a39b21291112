import Database from 'better-sqlite3';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { request } from 'node:https';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { oathtool } from '../../helpers/oathtool.js';
import { tempDir } from '../../helpers/tmp.js';
import { accessRequest } from '../radius/nas.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const entry = ['--import', 'tsx', 'src-server/main.ts'];
const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function data(): string {
  const t = tempDir('lifeline-cli-');
  cleanups.push(t.cleanup);
  return t.dir;
}

/** Runs a CLI command to completion (stdout is a pipe, not a TTY). */
function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [...entry, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts the server and waits until it prints its URL. */
async function startServer(dir: string, env: Record<string, string> = {}, extra: string[] = []) {
  const child = spawn(process.execPath, [...entry, '--port', '0', '--data', dir, ...extra], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += String(c)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  cleanups.push(() => child.kill('SIGKILL'));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stdout} ${stderr}`)), 60_000);
    child.stdout.on('data', (c) => {
      stdout += String(c);
      const m = /Lifeline server: (https?:\/\/\S+)/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', () => reject(new Error(`server exited: ${stdout} ${stderr}`)));
  });
  return { child, url, exited, output: () => stdout + stderr };
}

const mode = (file: string) => statSync(file).mode & 0o777;

/**
 * Each CLI command is a fresh Node + tsx process (2-5 s on a loaded two-core machine): a test that runs several is
 * given this much per process, so its timeout grows with what it does instead of sharing one fixed minute.
 */
const PER_PROCESS_MS = 20_000;

describe('server entry and CLI', () => {
  it('first start without a terminal: 0600 key file, credentials in a 0600 file (not in the log), clean SIGTERM with a checkpoint', async () => {
    const dir = data();
    const s = await startServer(dir);
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(s.output()).toContain('/console');
    expect(((await (await fetch(`${s.url}/readyz`)).json()) as { radius?: unknown }).radius).toBeUndefined(); // no RADIUS server
    expect(mode(path.join(dir, 'lifeline.key'))).toBe(0o600);
    const credsFile = path.join(dir, 'initial-admin.txt');
    expect(mode(credsFile)).toBe(0o600);
    const creds = readFileSync(credsFile, 'utf8');
    const password = /password:\s+(\S+)/.exec(creds)![1]!;
    const secret = /TOTP secret:\s+(\S+)/.exec(creds)![1]!;
    expect(s.output()).not.toContain(password);
    expect(s.output()).not.toContain(secret);
    // The credentials work.
    const login = await fetch(`${s.url}/api/v1/admin/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password, otp: oathtool(secret, Date.now()) }),
    });
    expect(login.status).toBe(200);
    expect(existsSync(path.join(dir, 'server.pid'))).toBe(true);
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    expect(s.output()).toContain('"msg":"stopped"');
    expect(existsSync(path.join(dir, 'server.pid'))).toBe(false);
    expect(
      readFileSync(path.join(dir, 'audit-checkpoints.jsonl'), 'utf8').trim().split('\n').length,
    ).toBeGreaterThanOrEqual(2);
  });

  it('takes the first superadmin from LIFELINE_ADMIN_PASSWORD / LIFELINE_ADMIN_TOTP_SECRET and writes no credentials file', async () => {
    const dir = data();
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    const s = await startServer(dir, {
      LIFELINE_ADMIN_PASSWORD: 'an operator chosen passphrase',
      LIFELINE_ADMIN_TOTP_SECRET: secret,
    });
    expect(existsSync(path.join(dir, 'initial-admin.txt'))).toBe(false);
    const login = await fetch(`${s.url}/api/v1/admin/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        username: 'admin',
        password: 'an operator chosen passphrase',
        otp: oathtool(secret, Date.now()),
      }),
    });
    expect(login.status).toBe(200);
    s.child.kill('SIGINT');
    expect(await s.exited).toBe(0);
  });

  it(
    'bad arguments: one clear line and exit code 2',
    () => {
      const port = run(['--port', 'eighty']);
      expect(port.code).toBe(2);
      expect(port.stderr).toContain('--port');
      expect(run(['--bogus']).code).toBe(2);
      expect(run(['admin', 'create', 'x']).stderr).toContain('--role');
      expect(run(['frobnicate']).code).toBe(2);
      expect(run(['--tls-cert', 'a.pem']).stderr).toContain('--tls-key');
      expect(run(['--port', '70000']).code).toBe(2);
    },
    7 * PER_PROCESS_MS,
  );

  it(
    'init creates the key file once; admin create, audit verify, backup and restore',
    async () => {
      const dir = data();
      const init = run(['init', '--data', dir]);
      expect(init.code).toBe(0);
      expect(mode(path.join(dir, 'lifeline.key'))).toBe(0o600);
      expect(run(['init', '--data', dir]).code).toBe(1);

      const made = run(['admin', 'create', 'helen', '--role', 'helpdesk', '--data', dir]);
      expect(made.code, made.stderr).toBe(0);
      expect(made.stdout).toMatch(/TOTP secret:\s+[A-Z2-7]{32}/);

      const ok = run(['audit', 'verify', '--data', dir]);
      expect(ok.code, ok.stdout + ok.stderr).toBe(0);
      expect(ok.stdout).toContain('OK');

      const backup = path.join(dir, 'backup.sqlite');
      expect(run(['backup', backup, '--data', dir]).code).toBe(0);
      expect(run(['backup', backup, '--data', dir]).code).toBe(1); // never overwrites

      // Edit a row in the live database: verify names it; restoring the backup brings the intact log back.
      const raw = new Database(path.join(dir, 'lifeline.sqlite'));
      raw.prepare("UPDATE audit SET actor = 'someone else' WHERE id = 1").run();
      raw.close();
      const bad = run(['audit', 'verify', '--data', dir]);
      expect(bad.code).toBe(1);
      expect(bad.stdout).toContain('first bad row 1');

      // Refused while a server holds the folder (this test process stands in for it).
      writeFileSync(path.join(dir, 'server.pid'), `${process.pid}\n`);
      const refused = run(['restore', backup, '--data', dir]);
      expect(refused.code).toBe(1);
      expect(refused.stdout).toContain('stop it first');
      writeFileSync(path.join(dir, 'server.pid'), '999999999\n'); // a stale pid file does not block
      const restored = run(['restore', backup, '--data', dir]);
      expect(restored.code, restored.stdout).toBe(0);
      expect(run(['audit', 'verify', '--data', dir]).code).toBe(0);
    },
    12 * PER_PROCESS_MS,
  );

  it('--radius-port: RADIUS beside HTTP, its silent drops counted on /readyz (a packet from an unregistered address)', async () => {
    const s = await startServer(data(), {}, ['--radius-port', '0']);
    const port = Number(/RADIUS: +udp \S+:(\d+)/.exec(s.output())?.[1]);
    expect(port).toBeGreaterThan(0);
    const readyz = async () =>
      (await (await fetch(`${s.url}/readyz`)).json()) as {
        radius?: { received: number; dropped: { unknownSource: number } };
      };
    expect((await readyz()).radius).toMatchObject({ received: 0, dropped: { unknownSource: 0 } });

    // No RADIUS client is registered, so 127.0.0.1 is unknown: no answer on the wire, one count on /readyz.
    const socket = createSocket('udp4');
    try {
      const answered = new Promise<boolean>((resolve) => {
        socket.once('message', () => resolve(true));
        setTimeout(() => resolve(false), 1_000);
      });
      socket.send(
        accessRequest({ identifier: 7, secret: 'not-registered', username: 'ana', password: '123456' }),
        port,
        '127.0.0.1',
      );
      expect(await answered).toBe(false);
    } finally {
      socket.close();
    }
    expect((await readyz()).radius).toMatchObject({ received: 1, dropped: { unknownSource: 1 } });
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });

  it('--tls-cert/--tls-key: HTTPS, and the console cookie gets the Secure flag', async () => {
    const dir = data();
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    const s = await startServer(
      dir,
      { LIFELINE_ADMIN_PASSWORD: 'an operator chosen passphrase', LIFELINE_ADMIN_TOTP_SECRET: secret },
      ['--tls-cert', cert, '--tls-key', key],
    );
    expect(s.url).toMatch(/^https:\/\//);
    const body = JSON.stringify({
      username: 'admin',
      password: 'an operator chosen passphrase',
      otp: oathtool(secret, Date.now()),
    });
    const res = await new Promise<{ status: number; cookie: string }>((resolve, reject) => {
      const req = request(
        `${s.url}/api/v1/admin/console-sessions`,
        {
          method: 'POST',
          ca: readFileSync(cert),
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (r) => {
          r.resume();
          r.on('end', () => resolve({ status: r.statusCode ?? 0, cookie: String(r.headers['set-cookie'] ?? '') }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(res.status).toBe(200);
    expect(res.cookie).toMatch(/; Secure/i);
    expect(res.cookie).toMatch(/HttpOnly/i);
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });
});
