/**
 * POST /api/v1/verify on each engine: one SQLite instance, one PostgreSQL instance, two PostgreSQL instances on one
 * database (requests split evenly over both, as a load balancer would), beside the bare node:http server doing the
 * same cryptography (bench/lib/bare-verify-server.ts), all measured in this run on this machine with autocannon.
 *
 *   npx tsx bench/verify-engines.ts [-- --users 128 --connections 64 --duration 8 --latency-duration 4 --runs 3 --engines sqlite,pg1,pg2]
 *
 * The load is bench/verify.ts's: every request a full, successful verification of PIN + multi-use temporary code,
 * users round-robin so none has two requests in flight. With two instances each gets half the connections and half
 * the users (two autocannon runs at once); req/s is their sum, latencies the worse of the two.
 * PostgreSQL: LIFELINE_TEST_PG_URL, else a durable throwaway cluster (fsync on) from scripts/pg-test-cluster.sh.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { describeUnsuccessful, successfulPerSecond, unsuccessful, type Unsuccessful } from './lib/autocannon.js';
import {
  median,
  provisionVerifyUsers,
  startBareServer,
  VERIFY_BENCH_OPTIONS,
  verifyBenchSettings,
  verifyLoad as load,
  type BenchUser,
} from './lib/verify-load.js';
import {
  ADMIN_PASSWORD,
  ADMIN_TOTP,
  startDeployment,
  startPgCluster,
  totp,
  type Deployment,
  type EngineConfig,
  type PgCluster,
} from './lib/storm-deployment.js';

const { values } = parseArgs({
  options: { ...VERIFY_BENCH_OPTIONS, engines: { type: 'string', default: 'sqlite,pg1,pg2' } },
});
const {
  users: USERS,
  connections: CONNECTIONS,
  duration: DURATION,
  latencyDuration: LATENCY_DURATION,
  runs: RUNS,
} = verifyBenchSettings(values);

const ENGINES: Record<string, EngineConfig> = {
  sqlite: { engine: 'sqlite', instances: 1 },
  pg1: { engine: 'postgres', instances: 1 },
  pg2: { engine: 'postgres', instances: 2 },
};

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  idleP50: number;
  idleP99: number;
  failures: Unsuccessful;
}

/** Spreads the connections and the users over the instances; one connection in all for the idle latency. */
async function measure(urls: string[], key: string, users: BenchUser[]): Promise<Sample> {
  const share = <T>(xs: T[], i: number) => xs.filter((_, k) => k % urls.length === i);
  const loaded = await Promise.all(
    urls.map((u, i) => load(u, key, share(users, i), Math.max(1, Math.floor(CONNECTIONS / urls.length)), DURATION)),
  );
  const idle = await load(urls[0]!, key, users, 1, LATENCY_DURATION);
  return {
    rps: loaded.reduce((a, r) => a + successfulPerSecond(r), 0),
    p50: Math.max(...loaded.map((r) => r.latency.p50)),
    p99: Math.max(...loaded.map((r) => r.latency.p99)),
    idleP50: idle.latency.p50,
    idleP99: idle.latency.p99,
    failures: unsuccessful([...loaded, idle]),
  };
}

async function main(): Promise<void> {
  const selected = values.engines.split(',').map((e) => e.trim());
  for (const e of selected) if (!ENGINES[e]) throw new Error(`unknown engine ${e} (sqlite, pg1, pg2)`);
  const dir = mkdtempSync(path.join(tmpdir(), 'lifeline-bench-engines-'));
  let cluster: PgCluster | undefined;
  const deployments: { name: string; d: Deployment; key: string; users: BenchUser[] }[] = [];
  let bare: { url: string; child: ChildProcess } | undefined;
  try {
    if (selected.some((e) => ENGINES[e]!.engine === 'postgres')) {
      const started = await startPgCluster();
      if ('skipped' in started) {
        console.log(`PostgreSQL skipped: ${started.skipped}`);
        selected.splice(0, selected.length, ...selected.filter((e) => ENGINES[e]!.engine === 'sqlite'));
      } else cluster = started.cluster;
    }
    for (const name of selected) {
      const d = await startDeployment(ENGINES[name]!, cluster?.url);
      const { key, users } = await provisionVerifyUsers(
        d.urls[0]!,
        { password: ADMIN_PASSWORD, otp: totp(ADMIN_TOTP, Date.now()) },
        USERS,
      );
      deployments.push({ name, d, key, users });
    }
    bare = await startBareServer(deployments[0]!.users, dir);
    const targets = [
      {
        name: 'bare',
        urls: [bare.url],
        key: deployments[0]!.key,
        users: deployments[0]!.users,
        label: 'bare node:http, same crypto',
      },
      ...deployments.map((x) => ({ name: x.name, urls: x.d.urls, key: x.key, users: x.users, label: x.d.label })),
    ];
    process.stderr.write(
      `warming up (${USERS} users, ${CONNECTIONS} connections)${cluster ? `; PostgreSQL ${cluster.durability}` : ''}\n`,
    );
    for (const t of targets)
      await Promise.all(t.urls.map((u) => load(u, t.key, t.users, Math.max(1, CONNECTIONS / t.urls.length), 2)));

    const samples = new Map<string, Sample[]>(targets.map((t) => [t.name, []]));
    for (let run = 0; run < RUNS; run++) {
      const order = run % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) {
        const s = await measure(t.urls, t.key, t.users);
        samples.get(t.name)!.push(s);
        process.stderr.write(
          `run ${run + 1} ${t.name.padEnd(6)} ${s.rps.toFixed(1)} req/s  p50 ${s.p50} ms  p99 ${s.p99} ms  | 1 conn: p50 ${s.idleP50} ms  p99 ${s.idleP99} ms  | ${describeUnsuccessful(s.failures)}\n`,
        );
      }
    }
    const bareRps = median(samples.get('bare')!.map((s) => s.rps));
    console.log(
      `\nPOST /api/v1/verify, ${CONNECTIONS} connections, ${DURATION} s x ${RUNS} runs (medians), ${USERS} users, PIN + multi-use temporary code${cluster ? `; PostgreSQL ${cluster.durability}` : ''}`,
    );
    console.log(
      '| server | successful/s | vs bare | p50 ms | p99 ms | p50 ms (1 conn) | p99 ms (1 conn) | not successful (shed, non-2xx, errors) |',
    );
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const t of targets) {
      const xs = samples.get(t.name)!;
      const m = (f: (s: Sample) => number) => median(xs.map(f));
      console.log(
        `| ${t.label} | ${m((s) => s.rps).toFixed(1)} | ${(m((s) => s.rps) / bareRps).toFixed(2)} | ${m((s) => s.p50)} | ${m((s) => s.p99)} | ${m((s) => s.idleP50)} | ${m((s) => s.idleP99)} | ${xs.reduce((a, s) => a + s.failures.shed + s.failures.otherNon2xx + s.failures.errors, 0)} |`,
      );
    }
  } finally {
    bare?.child.kill('SIGTERM');
    for (const x of deployments) await x.d.close();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
