/**
 * Throughput and latency of POST /api/v1/verify against a real server process, beside a bare node:http server that
 * does the same cryptography per request (bench/lib/bare-verify-server.ts), both measured in this run on this
 * machine with autocannon.
 *
 *   npm run bench:verify [-- --users 128 --connections 64 --duration 8 --runs 3]
 *
 * Every request is a full, successful verification of PIN + multi-use temporary code: lockout reservation, one
 * scrypt of the code and one of the PIN, guarded update, audit row in the same transaction. Users are taken round-
 * robin so no user has more than one request in flight (Lifeline counts an attempt before comparing; parallel
 * attempts on one user would trip the lockout, which is its point, not a throughput limit).
 * Each run measures both servers (order alternating) at `--connections` flat out (throughput, and latency under
 * saturation, which is queueing: Little's law gives connections / throughput), then at `--connections` paced to half
 * the bare server's throughput of that run (latency under load without a queue), then at 1 connection (latency of
 * one request on an idle server). Medians over runs are printed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { oathtool } from '../test/helpers/oathtool.js';
import {
  describeUnsuccessful,
  successfulPerSecond,
  unsuccessful,
  type AutocannonResult,
  type Unsuccessful,
} from './lib/autocannon.js';
import {
  freePort,
  median,
  provisionVerifyUsers,
  startBareServer,
  VERIFY_BENCH_OPTIONS,
  verifyBenchSettings,
  verifyLoad as measure,
  waitFor,
  type BenchUser,
} from './lib/verify-load.js';

const { values } = parseArgs({ options: VERIFY_BENCH_OPTIONS });
const {
  users: USERS,
  connections: CONNECTIONS,
  duration: DURATION,
  latencyDuration: LATENCY_DURATION,
  runs: RUNS,
} = verifyBenchSettings(values);

const ADMIN_PASSWORD = 'bench-admin-password-0123456789';
const ADMIN_TOTP = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

function startProcess(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/**
 * autocannon stops sending at the end of a phase, but the server still works through the requests already queued
 * in its thread pool; one request answered in turn means the backlog is gone and the next phase starts clean.
 */
async function drain(base: string, key: string, u: BenchUser): Promise<void> {
  await fetch(base + '/api/v1/verify', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ username: u.username, code: u.code, pin: u.pin, purpose: 'logon' }),
  });
}

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  pacedRate: number;
  pacedP50: number;
  pacedP99: number;
  idleP50: number;
  idleP99: number;
  failures: Unsuccessful;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'lifeline-bench-verify-'));
  const lifelinePort = await freePort();
  const lifelineUrl = `http://127.0.0.1:${lifelinePort}`;
  const procs: ChildProcess[] = [];
  try {
    procs.push(
      startProcess(
        ['src-server/main.ts', '--port', String(lifelinePort), '--host', '127.0.0.1', '--data', path.join(dir, 'data')],
        {
          LIFELINE_ADMIN_PASSWORD: ADMIN_PASSWORD,
          LIFELINE_ADMIN_TOTP_SECRET: ADMIN_TOTP,
        },
      ),
    );
    await waitFor(lifelineUrl + '/api/v1/verify');
    const { key, users } = await provisionVerifyUsers(
      lifelineUrl,
      { password: ADMIN_PASSWORD, otp: oathtool(ADMIN_TOTP, Date.now()) },
      USERS,
    );
    const bare = await startBareServer(users, dir);
    procs.push(bare.child);
    const bareUrl = bare.url;

    const targets = { lifeline: lifelineUrl, bare: bareUrl } as const;
    const samples: Record<keyof typeof targets, Sample[]> = { lifeline: [], bare: [] };
    process.stderr.write(`warming up (${USERS} users, ${CONNECTIONS} connections)\n`);
    for (const url of Object.values(targets)) {
      await measure(url, key, users, CONNECTIONS, 2);
      await drain(url, key, users[0]!);
    }

    for (let run = 0; run < RUNS; run++) {
      const order: (keyof typeof targets)[] = run % 2 === 0 ? ['bare', 'lifeline'] : ['lifeline', 'bare'];
      const loaded: Partial<Record<keyof typeof targets, AutocannonResult>> = {};
      for (const name of order) {
        loaded[name] = await measure(targets[name], key, users, CONNECTIONS, DURATION);
        await drain(targets[name], key, users[0]!);
      }
      const pacedRate = Math.max(1, Math.round(successfulPerSecond(loaded.bare!) / 2));
      for (const name of order) {
        const l = loaded[name]!;
        const paced = await measure(targets[name], key, users, CONNECTIONS, LATENCY_DURATION, pacedRate);
        await drain(targets[name], key, users[0]!);
        const idle = await measure(targets[name], key, users, 1, LATENCY_DURATION);
        const s: Sample = {
          rps: successfulPerSecond(l),
          p50: l.latency.p50,
          p99: l.latency.p99,
          pacedRate,
          pacedP50: paced.latency.p50,
          pacedP99: paced.latency.p99,
          idleP50: idle.latency.p50,
          idleP99: idle.latency.p99,
          failures: unsuccessful([l, paced, idle]),
        };
        samples[name].push(s);
        process.stderr.write(
          `run ${run + 1} ${name.padEnd(8)} ${s.rps.toFixed(1)} req/s  p50 ${s.p50} ms  p99 ${s.p99} ms  | paced ${pacedRate}/s: p50 ${s.pacedP50} ms  p99 ${s.pacedP99} ms  | 1 conn: p50 ${s.idleP50} ms  p99 ${s.idleP99} ms  | ${describeUnsuccessful(s.failures)}\n`,
        );
      }
    }

    const row = (name: keyof typeof targets) => {
      const xs = samples[name];
      const m = (f: (s: Sample) => number) => median(xs.map(f));
      return {
        rps: m((s) => s.rps),
        p50: m((s) => s.p50),
        p99: m((s) => s.p99),
        pacedRate: m((s) => s.pacedRate),
        pacedP50: m((s) => s.pacedP50),
        pacedP99: m((s) => s.pacedP99),
        idleP50: m((s) => s.idleP50),
        idleP99: m((s) => s.idleP99),
        failures: xs.reduce<Unsuccessful>(
          (a, s) => ({
            shed: a.shed + s.failures.shed,
            otherNon2xx: a.otherNon2xx + s.failures.otherNon2xx,
            errors: a.errors + s.failures.errors,
          }),
          { shed: 0, otherNon2xx: 0, errors: 0 },
        ),
      };
    };
    const l = row('lifeline');
    const b = row('bare');
    const ratio = l.rps / b.rps;
    console.log(
      `\nPOST /api/v1/verify, ${CONNECTIONS} connections, ${DURATION} s x ${RUNS} runs (medians), ${USERS} users, PIN + multi-use temporary code`,
    );
    console.log(
      `| server | successful/s (${CONNECTIONS} conn) | p50 ms | p99 ms | p50 ms (paced ${l.pacedRate}/s) | p99 ms (paced) | p50 ms (1 conn) | p99 ms (1 conn) | shed 503 | other non-2xx | errors |`,
    );
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const [label, r] of [
      ['Lifeline (fastify, SQLite, audit)', l],
      ['bare node:http, same crypto', b],
    ] as const) {
      console.log(
        `| ${label} | ${r.rps.toFixed(1)} | ${r.p50} | ${r.p99} | ${r.pacedP50} | ${r.pacedP99} | ${r.idleP50} | ${r.idleP99} | ${r.failures.shed} | ${r.failures.otherNon2xx} | ${r.failures.errors} |`,
      );
    }
    console.log(
      `\nthroughput ratio Lifeline / bare, successful verifications only: ${ratio.toFixed(2)} (target ≥ 0.5): ${ratio >= 0.5 ? 'met' : 'NOT met'}`,
    );
    console.log(`not counted: Lifeline ${describeUnsuccessful(l.failures)}; bare ${describeUnsuccessful(b.failures)}`);
    console.log(
      `p99 at ${CONNECTIONS} connections flat out: ${l.p99} ms (target < 25 ms): ${l.p99 < 25 ? 'met' : 'NOT met'}; paced to ${l.pacedRate}/s: ${l.pacedP99} ms; 1 connection: ${l.idleP99} ms`,
    );
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
