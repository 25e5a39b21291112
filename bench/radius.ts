/**
 * RADIUS throughput and latency: Lifeline's RADIUS front end beside FreeRADIUS itself, both driven by FreeRADIUS's
 * radclient with the same packet file, on this machine, in this run.
 *
 *   npx tsx bench/radius.ts [--users 64] [--requests 2000] [--parallel 32] [--runs 3]
 *
 * Lifeline: every request is PIN ‖ multi-use temporary code, so each one is a full verification (lockout
 * reservation, scrypt of the code and of the PIN, guarded update, audit row in the same transaction). FreeRADIUS:
 * PAP against Cleartext-Password in a users file (its cheapest path: a string comparison). Users are spread round-
 * robin so no user has two requests in flight (Lifeline counts an attempt before comparing; parallel attempts on
 * one user would trip the lockout, which is the point of it, not a throughput limit).
 *
 * A third row calls verifyCode directly with the same concurrency: the cost of the verification without RADIUS.
 *
 * Throughput: requests / wall time of `radclient -p <parallel>`. Latency: wall time / requests of `radclient -p 1`
 * (one request at a time; radclient's own per-packet cost is the same for both servers). Medians over runs,
 * servers alternated within each run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startRadiusServer } from '../src-server/radius/server.js';
import { defaultAdmissionLimits } from '../src-server/services/admission.js';
import { verifyCode } from '../src-server/services/verification.js';
import { bootstrap, createUser, enableTemporaryCodes } from '../test/helpers/admin.js';
import { startTestServer } from '../test/helpers/server.js';
import { freePort } from './lib/verify-load.js';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '64' },
    requests: { type: 'string', default: '2000' },
    'latency-requests': { type: 'string', default: '200' },
    parallel: { type: 'string', default: '32' },
    runs: { type: 'string', default: '3' },
  },
});
const USERS = Number(values.users);
const REQUESTS = Number(values.requests);
const LATENCY_REQUESTS = Number(values['latency-requests']);
const PARALLEL = Number(values.parallel);
const RUNS = Number(values.runs);
const PIN = '246810';

interface Measure {
  perSecond: number;
  latencyMs: number;
}

function packetFile(dir: string, name: string, users: { username: string; password: string }[], count: number): string {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const u = users[i % users.length]!;
    lines.push(
      `User-Name = ${JSON.stringify(u.username)}\nUser-Password = ${JSON.stringify(u.password)}\nMessage-Authenticator = 0x00\n`,
    );
  }
  const file = path.join(dir, name);
  writeFileSync(file, lines.join('\n'));
  return file;
}

/** Runs radclient over a packet file; returns wall milliseconds, refusing the result unless every request was accepted. */
function radclient(file: string, port: number, secret: string, parallel: number, expected: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('radclient', [
      '-q',
      '-s',
      '-r',
      '3',
      '-t',
      '5',
      '-p',
      String(parallel),
      '-f',
      file,
      `127.0.0.1:${port}`,
      'auth',
      secret,
    ]);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const accepted = Number(/Accepted\s*:\s*(\d+)/.exec(out)?.[1] ?? -1);
      if (accepted !== expected) reject(new Error(`radclient: ${accepted} of ${expected} accepted\n${out}`));
      else resolve(ms);
    });
  });
}

async function startFreeRadius(
  dir: string,
  port: number,
  secret: string,
  users: { username: string; password: string }[],
): Promise<ChildProcess> {
  writeFileSync(
    path.join(dir, 'users'),
    users.map((u) => `${u.username} Cleartext-Password := ${JSON.stringify(u.password)}\n`).join(''),
  );
  writeFileSync(
    path.join(dir, 'radiusd.conf'),
    `prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
raddbdir = ${dir}
confdir = ${dir}
logdir = ${dir}
radacctdir = ${dir}
run_dir = ${dir}
db_dir = ${dir}
libdir = /usr/lib/freeradius
pidfile = ${dir}/radiusd.pid
name = freeradius
max_request_time = 30
cleanup_delay = 5
max_requests = 65536
hostname_lookups = no
log {
  destination = stderr
  auth = no
}
security {
  allow_core_dumps = no
  max_attributes = 200
  reject_delay = 0
  status_server = no
}
thread pool {
  start_servers = 5
  max_servers = 32
  min_spare_servers = 3
  max_spare_servers = 10
  max_requests_per_server = 0
}
client bench {
  ipaddr = 127.0.0.1
  secret = ${secret}
  require_message_authenticator = yes
}
modules {
  pap {
    normalise = yes
  }
  files {
    filename = ${dir}/users
  }
}
server bench {
  listen {
    type = auth
    ipaddr = 127.0.0.1
    port = ${port}
  }
  authorize {
    files
    pap
  }
  authenticate {
    Auth-Type PAP {
      pap
    }
  }
}
`,
  );
  // Foreground (-f), normal logging (no -X debug output, which would slow it down), log to stdout.
  const child = spawn('freeradius', ['-f', '-d', dir, '-l', 'stdout'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (out.includes('Ready to process requests')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`freeradius exited (${code}):\n${out}`)));
  });
  return child;
}

/**
 * The same verifications without RADIUS: verifyCode called in-process with the same concurrency, so the table shows
 * how much of Lifeline's time is the verification itself (scrypt, durable commits) and how much the UDP front end.
 */
async function verifyDirect(
  server: Awaited<ReturnType<typeof startTestServer>>,
  users: { username: string; code: string }[],
  count: number,
  parallel: number,
): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    while (next < count) {
      const u = users[next++ % users.length]!;
      const r = await verifyCode(server.ctx, {
        username: u.username,
        code: u.code,
        pin: PIN,
        purpose: 'remote-access',
        channel: { kind: 'radius', id: 'bench' },
      });
      if (!r.ok) throw new Error(`direct verification failed: ${JSON.stringify(r)}`);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return Number(process.hrtime.bigint() - started) / 1e6;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'lifeline-bench-radius-'));
  // The instance's real gate (the CLI's defaults), which the RADIUS front end shares with the HTTP routes.
  const server = await startTestServer({ admission: defaultAdmissionLimits() });
  let freeradius: ChildProcess | undefined;
  const radius = await startRadiusServer(server.ctx, { host: '127.0.0.1', port: 0, admission: server.app.admission });
  try {
    const h = await bootstrap(server);
    await enableTemporaryCodes(h);
    const nas = await h.http('POST', '/api/v1/admin/radius-clients', { name: 'bench', addresses: ['127.0.0.1'] });
    const secret = nas.body.secret as string;
    const users: { username: string; password: string; code: string }[] = [];
    for (let i = 0; i < USERS; i++) {
      const username = `bench${i}`;
      await createUser(h, username, { pin: PIN });
      const issued = await h.http('POST', `/api/v1/admin/users/${username}/temporary-code`, {
        expiresInMinutes: 24 * 60,
        multiUse: true,
      });
      if (issued.status !== 201) throw new Error(`temporary code: ${issued.status} ${JSON.stringify(issued.body)}`);
      const code = String(issued.body.code).replace(/-/g, '');
      users.push({ username, password: PIN + code, code });
    }
    const throughputFile = packetFile(dir, 'throughput.txt', users, REQUESTS);
    const latencyFile = packetFile(dir, 'latency.txt', users, LATENCY_REQUESTS);
    const frDir = path.join(dir, 'freeradius');
    mkdirSync(frDir);
    // A TCP port free right now is, on loopback in practice, free for UDP too; good enough for a benchmark.
    const frPort = await freePort();
    freeradius = await startFreeRadius(frDir, frPort, secret, users);

    const results: Record<'lifeline' | 'freeradius', Measure[]> = { lifeline: [], freeradius: [] };
    const direct: Measure[] = [];
    const targets = { lifeline: radius.port, freeradius: frPort } as const;
    // Warm-up: JIT, SQLite page cache, FreeRADIUS threads.
    for (const name of ['lifeline', 'freeradius'] as const)
      await radclient(latencyFile, targets[name], secret, PARALLEL, LATENCY_REQUESTS);
    for (let run = 0; run < RUNS; run++) {
      const order = run % 2 === 0 ? (['lifeline', 'freeradius'] as const) : (['freeradius', 'lifeline'] as const);
      for (const name of order) {
        const wall = await radclient(throughputFile, targets[name], secret, PARALLEL, REQUESTS);
        const sequential = await radclient(latencyFile, targets[name], secret, 1, LATENCY_REQUESTS);
        results[name].push({ perSecond: (REQUESTS / wall) * 1000, latencyMs: sequential / LATENCY_REQUESTS });
        console.log(
          `run ${run + 1} ${name.padEnd(10)} ${results[name].at(-1)!.perSecond.toFixed(1)} req/s, ${results[name].at(-1)!.latencyMs.toFixed(2)} ms`,
        );
      }
      const wall = await verifyDirect(server, users, REQUESTS, PARALLEL);
      const sequential = await verifyDirect(server, users, LATENCY_REQUESTS, 1);
      direct.push({ perSecond: (REQUESTS / wall) * 1000, latencyMs: sequential / LATENCY_REQUESTS });
      console.log(
        `run ${run + 1} verifyCode ${direct.at(-1)!.perSecond.toFixed(1)} req/s, ${direct.at(-1)!.latencyMs.toFixed(2)} ms`,
      );
    }
    const lifeline = {
      perSecond: median(results.lifeline.map((m) => m.perSecond)),
      latencyMs: median(results.lifeline.map((m) => m.latencyMs)),
    };
    const alone = {
      perSecond: median(direct.map((m) => m.perSecond)),
      latencyMs: median(direct.map((m) => m.latencyMs)),
    };
    const fr = {
      perSecond: median(results.freeradius.map((m) => m.perSecond)),
      latencyMs: median(results.freeradius.map((m) => m.latencyMs)),
    };
    console.log(
      `\n${REQUESTS} Access-Requests (${USERS} users), radclient -p ${PARALLEL}; latency: ${LATENCY_REQUESTS} requests with -p 1; medians of ${RUNS} runs\n`,
    );
    console.log('| server | Access-Requests/s (-p ' + PARALLEL + ') | latency, one at a time (ms) |');
    console.log('|---|---|---|');
    console.log(
      `| Lifeline (PIN + temporary code, full verification) | ${lifeline.perSecond.toFixed(1)} | ${lifeline.latencyMs.toFixed(2)} |`,
    );
    console.log(
      `| Lifeline verifyCode alone, in-process (no RADIUS) | ${alone.perSecond.toFixed(1)} | ${alone.latencyMs.toFixed(2)} |`,
    );
    console.log(`| FreeRADIUS 3.2 (PAP, users file) | ${fr.perSecond.toFixed(0)} | ${fr.latencyMs.toFixed(2)} |`);
    console.log(
      `| ratio Lifeline / FreeRADIUS | ${(lifeline.perSecond / fr.perSecond).toFixed(4)}× | ${(lifeline.latencyMs / fr.latencyMs).toFixed(2)}× |`,
    );
    console.log(`\nLifeline RADIUS stats: ${JSON.stringify(radius.stats)}`);
  } finally {
    freeradius?.kill('SIGTERM');
    await radius.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
