import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { autocannon, type AutocannonResult } from './autocannon.js';

/**
 * What bench/verify.ts and bench/verify-engines.ts share: their settings, the users they provision, the bare server
 * beside Lifeline, the verify load they send and how they summarise runs, so the two benchmarks measure exactly the
 * same request.
 */
export interface BenchUser {
  username: string;
  code: string;
  pin: string;
}

export const BENCH_PIN = '246810';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

/** The command-line options both take, with the same defaults (parseArgs form; a benchmark may add its own). */
export const VERIFY_BENCH_OPTIONS = {
  users: { type: 'string', default: '128' },
  connections: { type: 'string', default: '64' },
  duration: { type: 'string', default: '8' },
  'latency-duration': { type: 'string', default: '4' },
  runs: { type: 'string', default: '3' },
} as const;

export interface VerifyBenchSettings {
  users: number;
  connections: number;
  duration: number;
  latencyDuration: number;
  runs: number;
}

export function verifyBenchSettings(values: Record<keyof typeof VERIFY_BENCH_OPTIONS, string>): VerifyBenchSettings {
  return {
    users: Number(values.users),
    connections: Number(values.connections),
    duration: Number(values.duration),
    latencyDuration: Number(values['latency-duration']),
    runs: Number(values.runs),
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once something answers HTTP at `url` (any status), polling for up to 30 s. */
export async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(url, { method: 'POST', body: '{}' })).status > 0) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
}

/**
 * The bare node:http server doing the same cryptography per request (bare-verify-server.ts) on a free port, knowing
 * `users` from a fixture file written into `dir`; the caller kills `child`.
 */
export async function startBareServer(users: BenchUser[], dir: string): Promise<{ url: string; child: ChildProcess }> {
  const fixture = path.join(dir, 'fixture.json');
  writeFileSync(fixture, JSON.stringify({ users }), { mode: 0o600 });
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/lib/bare-verify-server.ts', fixture, String(port)], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(url + '/');
  } catch (err) {
    child.kill('SIGTERM');
    throw err;
  }
  return { url, child };
}

/** JSON over HTTP; anything but a 2xx ends the benchmark with the server's answer. */
export async function callJson(
  base: string,
  method: string,
  p: string,
  body: unknown,
  token?: string,
): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(base + p, { method, headers, body: JSON.stringify(body) });
  const parsed = (await res.json()) as Record<string, unknown>;
  if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(parsed)}`);
  return parsed;
}

/** Admin sign-in, temporary codes on, one API client, `count` users each with a PIN and a multi-use temporary code. */
export async function provisionVerifyUsers(
  base: string,
  admin: { password: string; otp: string },
  count: number,
): Promise<{ key: string; users: BenchUser[] }> {
  const login = await callJson(base, 'POST', '/api/v1/admin/sessions', {
    username: 'admin',
    password: admin.password,
    otp: admin.otp,
  });
  const token = login.token as string;
  await callJson(base, 'PATCH', '/api/v1/admin/settings', { settings: { temporaryCodesEnabled: true } }, token);
  const client = await callJson(base, 'POST', '/api/v1/admin/clients', { name: 'bench' }, token);
  const users: BenchUser[] = [];
  const one = async (i: number) => {
    const username = `bench-${i}`;
    await callJson(base, 'POST', '/api/v1/admin/users', { username }, token);
    await callJson(base, 'PUT', `/api/v1/admin/users/${username}/pin`, { pin: BENCH_PIN }, token);
    const issued = await callJson(
      base,
      'POST',
      `/api/v1/admin/users/${username}/temporary-code`,
      { multiUse: true, expiresInMinutes: 600 },
      token,
    );
    users.push({ username, code: issued.code as string, pin: BENCH_PIN });
  };
  for (let i = 0; i < count; i += 8)
    await Promise.all(Array.from({ length: Math.min(8, count - i) }, (_, k) => one(i + k)));
  return { key: client.key as string, users };
}

/** POST /api/v1/verify with autocannon, users taken round-robin so none has two requests in flight. */
export function verifyLoad(
  base: string,
  key: string,
  users: BenchUser[],
  connections: number,
  duration: number,
  overallRate?: number,
): Promise<AutocannonResult> {
  let next = 0;
  return autocannon({
    url: base + '/api/v1/verify',
    connections,
    duration,
    ...(overallRate !== undefined ? { overallRate } : {}),
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        setupRequest: (req) => {
          const u = users[next++ % users.length]!;
          return { ...req, body: JSON.stringify({ username: u.username, code: u.code, pin: u.pin, purpose: 'logon' }) };
        },
      },
    ],
  });
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
