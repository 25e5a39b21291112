import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../../../src-main/core/agent.js';
import { fetchTrustingCas } from '../../../src-main/core/http-tls.js';
import { systemClock, type HttpFetch } from '../../../src-main/core/ports.js';
import { KEY_FILE } from '../../../src-server/bootstrap.js';
import { listSigningKeys } from '../../../src-server/keyfile.js';
import { oathtool } from '../../helpers/oathtool.js';
import { tempDir } from '../../helpers/tmp.js';
import { agentDeps, testKeychain } from './support.js';

/**
 * Issue 6: the agent enrolls against an HTTPS server whose certificate it was configured to trust (serverCaFile),
 * and refuses one it was not. A throwaway CA (openssl) issues the server's certificate for 127.0.0.1; the real
 * server entry runs as a child process with --tls-cert/--tls-key; the agent core uses the real gnome-keyring.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const ADMIN_PASSWORD = 'an operator chosen passphrase';
const ADMIN_TOTP = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const BUDGET_MS = 2_000;

const tmp = tempDir('lifeline-agent-tls-');
const pki = path.join(tmp.dir, 'pki');
let server: { child: ChildProcess; url: string; exited: Promise<number | null> };
let adminFetch: HttpFetch;
let enrollmentSecret: string;
let fingerprints: string[];

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: pki, stdio: 'pipe' });
}

/** A self-signed CA (its certificate at <name>.pem, key at <name>.key). */
function makeCa(name: string): string {
  openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=Lifeline test ${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
  ]);
  return path.join(pki, `${name}.pem`);
}

/** The server's certificate for 127.0.0.1 and localhost, issued by the CA `ca`. */
function makeServerCert(ca: string): { cert: string; key: string } {
  writeFileSync(
    path.join(pki, 'server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n',
  );
  openssl([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
  ]);
  openssl([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    `${ca}.pem`,
    '-CAkey',
    `${ca}.key`,
    '-set_serial',
    '0x5a17',
    '-days',
    '1',
    '-extfile',
    'server.ext',
    '-out',
    'server.pem',
  ]);
  return { cert: path.join(pki, 'server.pem'), key: path.join(pki, 'server.key') };
}

/** `node --import tsx src-server/main.ts --tls-cert … --tls-key … --port 0`, resolved once it prints its URL. */
async function startServer(dataDir: string, tls: { cert: string; key: string }): Promise<typeof server> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src-server/main.ts',
      '--port',
      '0',
      '--data',
      dataDir,
      '--tls-cert',
      tls.cert,
      '--tls-key',
      tls.key,
    ],
    {
      cwd: ROOT,
      env: { ...process.env, LIFELINE_ADMIN_PASSWORD: ADMIN_PASSWORD, LIFELINE_ADMIN_TOTP_SECRET: ADMIN_TOTP },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let output = '';
  child.stderr!.on('data', (c) => (output += String(c)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${output}`)), 60_000);
    child.stdout!.on('data', (c) => {
      output += String(c);
      const m = /Lifeline server: (https:\/\/\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', () => reject(new Error(`server exited: ${output}`)));
  });
  return { child, url, exited };
}

async function adminCall(
  method: string,
  route: string,
  token?: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await adminFetch(server.url + route, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const agents: Agent[] = [];
let agentDirs = 0;

async function agentWith(caFile: string | undefined, serverUrl = server.url): Promise<Agent> {
  const dir = path.join(tmp.dir, `agent-${++agentDirs}`);
  mkdirSync(dir);
  const deps = agentDeps(dir, testKeychain(), { serverUrl, fingerprints, clock: systemClock });
  const core = await createAgent({
    ...deps,
    config: {
      ...deps.config,
      enrollmentSecret,
      reachabilityBudgetMs: BUDGET_MS,
      ...(caFile ? { serverCaFile: caFile } : {}),
    },
  });
  agents.push(core);
  return core;
}

async function enrolledDevices(token: string): Promise<string[]> {
  const res = await adminCall('GET', '/api/v1/admin/devices', token);
  expect(res.status).toBe(200);
  return (res.body.devices as { deviceId: string }[]).map((d) => d.deviceId);
}

let token: string;

beforeAll(async () => {
  mkdirSync(pki);
  const ca = makeCa('ca');
  makeCa('other-ca');
  server = await startServer(path.join(tmp.dir, 'server'), makeServerCert('ca'));
  // The test's own admin calls trust the CA the same way (they are not what is under test here).
  adminFetch = fetchTrustingCas([readFileSync(ca, 'utf8')]);
  const login = await adminCall('POST', '/api/v1/admin/sessions', undefined, {
    username: 'admin',
    password: ADMIN_PASSWORD,
    otp: oathtool(ADMIN_TOTP, Date.now()),
  });
  expect(login.status).toBe(200);
  token = login.body.token as string;
  const secret = await adminCall('GET', '/api/v1/admin/devices/enrollment-secret', token);
  expect(secret.status).toBe(200);
  enrollmentSecret = secret.body.enrollmentSecret as string;
  fingerprints = listSigningKeys(path.join(tmp.dir, 'server', KEY_FILE))
    .filter((k) => k.state !== 'retired')
    .map((k) => k.fingerprint);
}, 90_000);

afterAll(async () => {
  for (const core of agents) await core.close();
  if (server) {
    server.child.kill('SIGTERM');
    await server.exited;
  }
  tmp.cleanup();
});

describe('agent over HTTPS (real server with --tls-cert, real keychain)', () => {
  it('the server really serves HTTPS with a certificate from the test CA', () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('with serverCaFile set to the issuing CA, the agent enrolls (pending) and the server lists the device', async () => {
    const core = await agentWith(path.join(pki, 'ca.pem'));
    const state = await core.ensureEnrolled(BUDGET_MS);
    expect(state?.status).toBe('pending');
    expect(state?.deviceId).toMatch(/\S+/);
    expect(state?.serverKeys.map((k) => k.fingerprint)).toEqual(fingerprints);
    expect(core.client.lastFailure).toBeNull();
    expect(await enrolledDevices(token)).toContain(state!.deviceId);
  });

  for (const [label, ca] of [
    ['without serverCaFile (public roots only)', undefined],
    ['with serverCaFile set to another CA', 'other-ca.pem'],
  ] as const) {
    it(`${label}: enrollment is refused within the budget with a clear reason, and nothing is stored as enrolled`, async () => {
      const before = await enrolledDevices(token);
      const core = await agentWith(ca ? path.join(pki, ca) : undefined);
      const started = Date.now();
      const state = await core.ensureEnrolled(BUDGET_MS);
      expect(Date.now() - started).toBeLessThan(BUDGET_MS + 500);
      expect(state).toBeNull();
      expect(core.client.lastFailure?.reason).toBe('tls');
      expect(core.client.lastFailure?.detail).toMatch(/CERT|SELF_SIGNED|UNABLE_TO/);
      expect(core.device()).toMatchObject({ deviceId: null, status: 'unenrolled' });
      // What the person at the prompt sees: the reason, not a crash or a generic failure.
      const login = await core.login({ username: 'alice', pin: '1234', code: '123456', purpose: 'logon' });
      expect(login).toMatchObject({ ok: false, error: 'server_unreachable' });
      expect(!login.ok && login.message).toMatch(/does not trust the server's TLS certificate/);
      expect(core.device().deviceId).toBeNull();
      expect(await enrolledDevices(token)).toEqual(before); // the server never saw the enrollment
    });
  }

  it('with serverCaFile, a server that accepts the connection but never answers the TLS handshake: offline decision within the budget', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((s) => sockets.add(s)); // accepts, then says nothing
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const core = await agentWith(
        path.join(pki, 'ca.pem'),
        `https://127.0.0.1:${(silent.address() as { port: number }).port}`,
      );
      const started = Date.now();
      expect(await core.ensureEnrolled(BUDGET_MS)).toBeNull();
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(BUDGET_MS - 50);
      expect(elapsed).toBeLessThan(BUDGET_MS + 500);
      expect(core.client.lastFailure).toEqual({ reason: 'timeout' });
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('a serverCaFile that is missing or holds no certificate stops the start with a message naming the key', async () => {
    const junk = path.join(pki, 'junk.pem');
    writeFileSync(junk, 'not a certificate\n');
    await expect(agentWith(path.join(pki, 'missing.pem'))).rejects.toThrow(
      /"serverCaFile" cannot be read: .*missing\.pem \(ENOENT\)/,
    );
    await expect(agentWith(junk)).rejects.toThrow(/"serverCaFile" holds no PEM certificate/);
    writeFileSync(junk, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    await expect(agentWith(junk)).rejects.toThrow(/"serverCaFile" holds an invalid certificate/);
    rmSync(junk);
  });
});
