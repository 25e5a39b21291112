/**
 * The login storm of bench/offline (issues 3 and 7): N simulated workstations log in and sync at once against real
 * server processes, on SQLite (one instance), PostgreSQL with one instance and PostgreSQL with two instances on one
 * database (requests split round-robin, both instances on one key file).
 *
 *   npm run bench:storm [-- --agents 500 --events 4 --days 1 --runs 3 --engines sqlite,pg1,pg2 --gates on]
 *
 * Setup (not timed): N users with a PIN and a TOTP token, the default policy's offline days set to --days; per run N
 * fresh devices enrolled (each from a loopback address of its own, as N machines would) and approved by the admin.
 * Storm (timed): every agent at once does a device-signed online login with the token code of that moment (the
 * answer carries its bundle delta of --days days of windows and its offline emergency slots), then uploads a sync
 * batch of --events offline events. Checks: every login 200 with a login result and bundle whose signatures verify
 * against the keys pinned at enrollment and that open with the device's key to the expected number of windows; every
 * sync acknowledged with a verified signature, all its event ids, no duplicate or anomaly; afterwards the audit holds
 * every uploaded event exactly once (by device and event id) and one successful login per device.
 *
 * Admission control (src-server/services/admission.ts, the 503 in src-server/http/admission.ts): each instance answers the logins beyond its limits with 503
 * `unavailable` at once (a real agent then verifies offline and syncs later). A shed login is counted as shed, not
 * as an error; its workstation does not sync, the audit must hold no attempt of it, and the instances' own counters
 * (/readyz) must agree. `--gates on,off` runs each engine with the gate at its defaults and, as the baseline in the
 * same run, with the gate opened wide (every login admitted and queued, as before the gate existed). The figure that
 * matters for a real agent is how many logins got an answer within its 2 s reachability budget.
 *
 * PostgreSQL: LIFELINE_TEST_PG_URL when set, else a throwaway durable cluster (fsync on) from
 * scripts/pg-test-cluster.sh, stopped afterwards; without either the PostgreSQL rows are skipped with the reason.
 */
import { parseArgs } from 'node:util';
import { openBundle, verifyBundle } from '../src-shared/crypto/bundle.js';
import { verifyServerMessage } from '../src-shared/crypto/device-messages.js';
import { SIGNATURE_DOMAINS } from '../src-shared/protocol/common.js';
import type { SyncEvent } from '../src-shared/protocol/sync.js';
import { oathtool } from '../test/helpers/oathtool.js';
import { StormAgent, type SignedReply } from './lib/storm-agent.js';
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
import { requestJson } from './lib/storm-http.js';

const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '500' },
    events: { type: 'string', default: '4' },
    days: { type: 'string', default: '1' },
    runs: { type: 'string', default: '3' },
    engines: { type: 'string', default: 'sqlite,pg1,pg2' },
    gates: { type: 'string', default: 'on' },
    'setup-concurrency': { type: 'string', default: '8' },
  },
});
const AGENTS = Number(values.agents);
const EVENTS = Number(values.events);
const DAYS = Number(values.days);
const RUNS = Number(values.runs);
const SETUP_CONCURRENCY = Number(values['setup-concurrency']);
const PIN = 'Storm-246810';
const STEP_MS = 30_000;
const WINDOWS_PER_DAY = 2880;
/** The agent's default reachability budget: an answer later than this finds the agent already gone offline. */
const AGENT_BUDGET_MS = 2_000;
if (AGENTS > 200 * 250) throw new Error('at most 50 000 agents (one loopback address each)');

const ENGINES: Record<string, EngineConfig> = {
  sqlite: { engine: 'sqlite', instances: 1 },
  pg1: { engine: 'postgres', instances: 1 },
  pg2: { engine: 'postgres', instances: 2 },
};

/**
 * The verification gate of the server processes, through the environment they inherit (storm-deployment.ts passes
 * process.env on): 'on' keeps the instance's defaults, 'off' opens it wide so that every login is admitted.
 */
const GATES: Record<string, Record<string, string | undefined>> = {
  on: {
    LIFELINE_VERIFY_CONCURRENCY: undefined,
    LIFELINE_VERIFY_QUEUE: undefined,
    LIFELINE_VERIFY_QUEUE_WAIT_MS: undefined,
  },
  off: { LIFELINE_VERIFY_CONCURRENCY: '10000', LIFELINE_VERIFY_QUEUE: '0', LIFELINE_VERIFY_QUEUE_WAIT_MS: '0' },
};

function useGate(gate: string): void {
  for (const [k, v] of Object.entries(GATES[gate]!)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}

/** Logins each instance's gate shed so far (its /readyz counters), summed over the deployment. */
async function shedByServers(d: Deployment): Promise<number> {
  let n = 0;
  for (const url of d.urls) {
    const res = await requestJson({ method: 'GET', url: url + '/readyz' });
    if (res.status !== 200) throw new Error(`${url}/readyz: ${res.status} ${JSON.stringify(res.body)}`);
    n += Number(res.body.admission.shed.queueFull) + Number(res.body.admission.shed.waitedTooLong);
  }
  return n;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stepOf = (ms: number) => Math.floor(ms / STEP_MS);

/** Waits until a TOTP step later than `after` has begun (plus a little, so the whole step lies ahead). */
async function waitForStepAfter(after: number): Promise<number> {
  const start = (after + 1) * STEP_MS + 300;
  if (Date.now() < start) await sleep(start - Date.now());
  return stepOf(Date.now());
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Runs `fn` over `items` with at most `limit` in flight. */
async function bounded<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The bootstrap admin over the API, signed in afresh when a high-assurance session is needed (one TOTP step each). */
class Admin {
  token = '';
  private lastStep = 0;
  constructor(private readonly base: string) {}

  async signIn(): Promise<void> {
    // Each admin TOTP step is accepted once: a second sign-in waits for the next step.
    this.lastStep = this.lastStep ? await waitForStepAfter(this.lastStep) : stepOf(Date.now());
    this.token = (
      await this.call('POST', '/api/v1/admin/sessions', {
        username: 'admin',
        password: ADMIN_PASSWORD,
        otp: totp(ADMIN_TOTP, Date.now()),
      })
    ).token as string;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async call(method: string, p: string, body?: unknown): Promise<any> {
    const res = await requestJson({
      method,
      url: this.base + p,
      body,
      headers: this.token ? { authorization: `Bearer ${this.token}` } : {},
    });
    if (res.status < 200 || res.status >= 300)
      throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }
}

interface StormUser {
  username: string;
  totpSecret: string;
}

async function provisionUsers(admin: Admin): Promise<StormUser[]> {
  await admin.call('PATCH', '/api/v1/admin/settings', { policies: { default: { offline: { days: DAYS } } } });
  const names = Array.from({ length: AGENTS }, (_, i) => `storm-${String(i).padStart(5, '0')}`);
  const users = await bounded(names, SETUP_CONCURRENCY, async (username) => {
    await admin.call('POST', '/api/v1/admin/users', { username });
    await admin.call('PUT', `/api/v1/admin/users/${username}/pin`, { pin: PIN });
    const enrolled = await admin.call('POST', `/api/v1/admin/users/${username}/token`, {});
    return { username, totpSecret: new URL(enrolled.otpauthUri as string).searchParams.get('secret')! };
  });
  // The in-process codes must agree with oathtool, an independent implementation (checked on a handful).
  for (const u of users.slice(0, 5)) {
    const at = Date.now();
    if (totp(u.totpSecret, at) !== oathtool(u.totpSecret, at))
      throw new Error(`otplib and oathtool disagree for ${u.username}`);
  }
  return users;
}

interface RunResult {
  totalMs: number;
  loginsPerS: number;
  syncsPerS: number;
  loginP50: number;
  loginP99: number;
  syncP50: number;
  syncP99: number;
  errors: number;
  /** Logins answered 503 `unavailable` by a gate (the agent verifies offline), and their latency. */
  shed: number;
  shedP50: number;
  shedP99: number;
  /** Logins answered (200, or shed) within the agent's reachability budget: answers a real agent would still use. */
  withinBudget: number;
  problems: string[];
  /** Checks beyond the per-agent answers (audit, counts): problems that a per-agent error does not already explain. */
  failedChecks: number;
  /** The servers' error-level log lines during the run, summarised (why a request failed, as far as the log says). */
  serverLog: string[];
}

interface AgentOutcome {
  login?: SignedReply;
  /** The login was shed (503 unavailable): nothing decided; a real agent verifies offline and syncs later. */
  shed?: boolean;
  loginMs?: number;
  loginDoneAt?: number;
  events?: SyncEvent[];
  sync?: SignedReply;
  syncStartAt?: number;
  syncMs?: number;
  syncDoneAt?: number;
  error?: string;
}

async function stormRun(
  d: Deployment,
  admin: Admin,
  users: StormUser[],
  run: number,
  lastStep: number,
): Promise<{ result: RunResult; step: number }> {
  let rr = 0;
  const pick = () => d.urls[rr++ % d.urls.length]!;
  const agents = users.map(
    (_u, i) => new StormAgent(`ws-storm-${run}-${i}`, `127.${run + 1}.${Math.floor(i / 200)}.${(i % 200) + 1}`, pick),
  );
  try {
    await admin.signIn(); // approvals need a high-assurance session (15 minutes)
    const { enrollmentSecret } = await admin.call('GET', '/api/v1/admin/devices/enrollment-secret');
    await bounded(agents, SETUP_CONCURRENCY, (a) => a.enroll(enrollmentSecret as string));
    await bounded(agents, SETUP_CONCURRENCY, (a) => admin.call('POST', `/api/v1/admin/devices/${a.deviceId}/approve`));

    // Each user's token step is accepted once: the storm starts at the beginning of a step none of them used yet.
    const step = await waitForStepAfter(lastStep);
    process.stderr.write(`  run ${run + 1}: ${AGENTS} devices enrolled and approved; storm at step ${step}\n`);
    const shedBefore = await shedByServers(d);
    const t0 = performance.now();
    const outcomes = await Promise.all(
      agents.map(async (a, i): Promise<AgentOutcome> => {
        const u = users[i]!;
        const o: AgentOutcome = {};
        try {
          const ls = performance.now();
          o.login = await a.login(u.username, PIN, totp(u.totpSecret, Date.now()));
          o.loginDoneAt = performance.now();
          o.loginMs = o.loginDoneAt - ls;
          o.shed = o.login.status === 503 && o.login.body?.error === 'unavailable';
          if (o.login.status !== 200) return o;
          const header = o.login.body.bundle?.header;
          const tokenGeneration = Number(header?.tokenGeneration ?? 0);
          o.events = Array.from({ length: EVENTS }, (_, k) =>
            k % 2 === 0
              ? a.event({ at: Date.now(), type: 'offline-failure', username: u.username, reason: 'invalid_code' })
              : // A window used offline before this login (below the step just used, so applying it burns nothing new).
                a.event({
                  at: Date.now(),
                  type: 'offline-success',
                  username: u.username,
                  method: 'token',
                  purpose: 'logon',
                  step: step - 10 * (EVENTS - k),
                  tokenGeneration,
                }),
          );
          // What the agent holds for its user. Slots are left empty: listing them means opening the box, which the
          // checks do after the clock stops, so the benchmark's own CPU stays off the two shared cores meanwhile.
          const held = header
            ? [{ username: u.username, tokenGeneration, pinGeneration: Number(header.pinGeneration), slots: [] }]
            : [];
          o.syncStartAt = performance.now();
          o.sync = await a.sync(o.events, held);
          o.syncDoneAt = performance.now();
          o.syncMs = o.syncDoneAt - o.syncStartAt;
        } catch (err) {
          o.error = err instanceof Error ? err.message : String(err);
        }
        return o;
      }),
    );
    const tEnd = performance.now();
    return {
      result: await check(d, agents, users, outcomes, t0, tEnd, (await shedByServers(d)) - shedBefore),
      step: stepOf(Date.now()),
    };
  } finally {
    for (const a of agents) a.close();
  }
}

/** Everything a storm must show, checked after the timed part. */
async function check(
  d: Deployment,
  agents: StormAgent[],
  users: StormUser[],
  outcomes: AgentOutcome[],
  t0: number,
  tEnd: number,
  shedCounted: number,
): Promise<RunResult> {
  const failures = new Map<string, number>();
  const fail = (what: string) => failures.set(what, (failures.get(what) ?? 0) + 1);
  const problems: string[] = [];
  const uploaded = new Map<string, string>(); // event id → device
  let minWindows = Infinity;
  let maxWindows = 0;
  outcomes.forEach((o, i) => {
    const a = agents[i]!;
    const username = users[i]!.username;
    if (o.error) return fail(`transport: ${o.error.slice(0, 80)}`);
    if (o.shed) {
      if (!(Number(o.login!.body.retryAfterSeconds) >= 1)) fail('shed login without retryAfterSeconds');
      return;
    }
    if (!o.login || o.login.status !== 200) return fail(`login ${o.login?.status} ${o.login?.body?.error ?? ''}`);
    const { result, bundle } = o.login.body;
    if (
      !verifyServerMessage(a.pinned, SIGNATURE_DOMAINS.loginResult, result) ||
      result.payload.requestNonce !== o.login.nonce ||
      result.payload.method !== 'token'
    )
      fail('login result signature/nonce/method');
    const checked = verifyBundle(bundle, { pinned: a.pinned, deviceId: a.deviceId, username, now: Date.now() });
    if (!checked.ok) return fail(`bundle ${checked.error}`);
    const content = openBundle(checked.delta, a.encryption);
    const windows = (content.tokenWindows?.codes.length ?? 0) / (content.tokenWindows?.digits ?? 6);
    minWindows = Math.min(minWindows, windows);
    maxWindows = Math.max(maxWindows, windows);
    if (windows < DAYS * WINDOWS_PER_DAY - 1 || content.slots.length === 0)
      fail(`bundle content: ${windows} windows, ${content.slots.length} slots`);
    if (!o.sync || o.sync.status !== 200) return fail(`sync ${o.sync?.status} ${o.sync?.body?.error ?? ''}`);
    const ack = o.sync.body.ack;
    const sent = o.events!.map((e) => e.id);
    if (!verifyServerMessage(a.pinned, SIGNATURE_DOMAINS.syncAck, ack) || ack.payload.requestNonce !== o.sync.nonce)
      fail('sync ack signature/nonce');
    if (
      JSON.stringify([...ack.payload.acknowledged].sort()) !== JSON.stringify([...sent].sort()) ||
      ack.payload.duplicates.length ||
      ack.payload.anomalies.length
    )
      fail('sync ack content');
    for (const id of sent) uploaded.set(id, a.deviceId);
  });

  // The audit: every uploaded event exactly once, under its device; nothing else from these devices' syncs.
  const devices = new Set(agents.map((a) => a.deviceId));
  const rows = await d.db.all<{ device: string; type: string; details: string }>(
    "SELECT device, type, details FROM audit WHERE type IN ('device.offline-success', 'device.offline-failure', 'device.sync-anomaly', 'device.sync-chain-gap')",
  );
  const seen = new Map<string, number>();
  for (const r of rows) {
    if (!devices.has(r.device)) continue;
    const id = (JSON.parse(r.details) as { eventId?: string }).eventId ?? `(${r.type} without event id)`;
    seen.set(id, (seen.get(id) ?? 0) + 1);
    if (uploaded.get(id) !== r.device) problems.push(`audit row ${r.type} ${id} not uploaded by ${r.device}`);
  }
  for (const [id, n] of seen) if (n !== 1) problems.push(`event ${id} audited ${n} times`);
  const missing = [...uploaded.keys()].filter((id) => !seen.has(id));
  if (missing.length) problems.push(`${missing.length} uploaded events missing from the audit`);
  const shedCount = outcomes.filter((o) => o.shed).length;
  const admittedAgents = agents.length - shedCount;
  const attempts = await d.db.all<{ device: string; outcome: string }>(
    "SELECT device, outcome FROM audit WHERE type = 'verify.attempt' AND actor_kind = 'device'",
  );
  const loginRows = attempts.filter((r) => r.outcome === 'success' && devices.has(r.device)).length;
  if (loginRows !== admittedAgents)
    problems.push(`${loginRows} successful device logins audited, expected ${admittedAgents}`);
  // A shed login decided nothing: no attempt of it may be audited (nor counted against its user).
  const shedDevices = new Set(agents.filter((_, i) => outcomes[i]!.shed).map((a) => a.deviceId));
  const shedAudited = attempts.filter((r) => shedDevices.has(r.device)).length;
  if (shedAudited) problems.push(`${shedAudited} verification attempts audited for shed logins`);
  if (shedCounted !== shedCount)
    problems.push(`the instances counted ${shedCounted} shed requests, the agents saw ${shedCount}`);
  if (uploaded.size !== admittedAgents * EVENTS)
    problems.push(`${uploaded.size} events acknowledged, expected ${admittedAgents * EVENTS}`);
  const failedChecks = problems.length;
  for (const [what, n] of failures) problems.push(`${n}x ${what}`);
  const serverLog = d.takeServerErrors();

  // Throughput and latency of the answered requests (200); the others are counted as errors.
  const okLogins = outcomes.filter((o) => o.login?.status === 200);
  const shedMs = outcomes
    .filter((o) => o.shed)
    .map((o) => o.loginMs!)
    .sort((x, y) => x - y);
  const withinBudget = outcomes.filter(
    (o) => (o.login?.status === 200 || o.shed) && o.loginMs! <= AGENT_BUDGET_MS,
  ).length;
  const okSyncs = outcomes.filter((o) => o.sync?.status === 200);
  const loginMs = okLogins.map((o) => o.loginMs!).sort((x, y) => x - y);
  const syncMs = okSyncs.map((o) => o.syncMs!).sort((x, y) => x - y);
  const lastLogin = Math.max(...okLogins.map((o) => o.loginDoneAt!));
  const firstSync = Math.min(...okSyncs.map((o) => o.syncStartAt!));
  const lastSync = Math.max(...okSyncs.map((o) => o.syncDoneAt!));
  process.stderr.write(
    `  bundles: ${minWindows}-${maxWindows} windows each; audit: ${seen.size} events of ${uploaded.size} uploaded, ${loginRows} logins; ${shedCount} logins shed\n`,
  );
  return {
    totalMs: tEnd - t0,
    loginsPerS: (loginMs.length / (lastLogin - t0)) * 1000,
    syncsPerS: (syncMs.length / (lastSync - firstSync)) * 1000,
    loginP50: percentile(loginMs, 50),
    loginP99: percentile(loginMs, 99),
    syncP50: percentile(syncMs, 50),
    syncP99: percentile(syncMs, 99),
    errors: [...failures.values()].reduce((x, y) => x + y, 0),
    shed: shedCount,
    shedP50: percentile(shedMs, 50),
    shedP99: percentile(shedMs, 99),
    withinBudget,
    problems,
    failedChecks,
    serverLog,
  };
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

async function main(): Promise<void> {
  const selected = values.engines.split(',').map((e) => e.trim());
  for (const e of selected) if (!ENGINES[e]) throw new Error(`unknown engine ${e} (sqlite, pg1, pg2)`);
  const gates = values.gates.split(',').map((g) => g.trim());
  for (const g of gates) if (!GATES[g]) throw new Error(`unknown gate setting ${g} (on, off)`);
  let cluster: PgCluster | undefined;
  let pgSkip: string | undefined;
  if (selected.some((e) => ENGINES[e]!.engine === 'postgres')) {
    const started = await startPgCluster();
    if ('skipped' in started) pgSkip = started.skipped;
    else cluster = started.cluster;
  }
  const lines: string[] = [];
  let failed = false;
  try {
    for (const [name, gate] of selected.flatMap((n) => gates.map((g) => [n, g] as const))) {
      const config = ENGINES[name]!;
      if (config.engine === 'postgres' && !cluster) {
        lines.push(`| PostgreSQL, ${config.instances} instance(s) | skipped: ${pgSkip} |`);
        process.stderr.write(`[${name}] skipped: ${pgSkip}\n`);
        continue;
      }
      useGate(gate);
      const d = await startDeployment(config, cluster?.url);
      try {
        process.stderr.write(
          `[${name}, gate ${gate}] ${d.label}${config.engine === 'postgres' ? ` (${cluster!.durability})` : ''}: provisioning ${AGENTS} users\n`,
        );
        const admin = new Admin(d.urls[0]!);
        await admin.signIn();
        const users = await provisionUsers(admin);
        const results: RunResult[] = [];
        let step = stepOf(Date.now());
        for (let run = 0; run < RUNS; run++) {
          const r = await stormRun(d, admin, users, run, step);
          step = r.step;
          results.push(r.result);
          const x = r.result;
          process.stderr.write(
            `  run ${run + 1}: total ${fmt(x.totalMs)} ms, ${fmt(x.loginsPerS, 1)} logins/s, ${fmt(x.syncsPerS, 1)} syncs/s, login p50 ${fmt(x.loginP50)} p99 ${fmt(x.loginP99)} ms, sync p50 ${fmt(x.syncP50)} p99 ${fmt(x.syncP99)} ms, shed ${x.shed} (p50 ${fmt(x.shedP50)} p99 ${fmt(x.shedP99)} ms), answered within ${AGENT_BUDGET_MS} ms ${x.withinBudget}, errors ${x.errors}\n`,
          );
          for (const p of x.problems) process.stderr.write(`    PROBLEM: ${p}\n`);
          for (const l of x.serverLog) process.stderr.write(`    server log: ${l}\n`);
          if (x.problems.length) failed = true;
        }
        const chain = await d.verifyAuditChain();
        for (const p of chain) process.stderr.write(`  PROBLEM: ${p}\n`);
        if (chain.length) failed = true;
        else process.stderr.write('  audit chain verified\n');
        const m = (f: (r: RunResult) => number) => median(results.map(f));
        lines.push(
          `| ${d.label} | ${gate} | ${fmt(
            m((r) => r.totalMs / 1000),
            1,
          )} | ${fmt(
            m((r) => r.loginsPerS),
            1,
          )} | ${fmt(
            m((r) => r.syncsPerS),
            1,
          )} | ${fmt(m((r) => r.loginP50))} / ${fmt(m((r) => r.loginP99))} | ${fmt(m((r) => r.shed))} | ${fmt(m((r) => r.shedP50))} / ${fmt(m((r) => r.shedP99))} | ${fmt(m((r) => r.withinBudget))} | ${fmt(m((r) => r.syncP50))} / ${fmt(m((r) => r.syncP99))} | ${results.reduce((a, r) => a + r.errors, 0)} | ${results.reduce((a, r) => a + r.failedChecks, 0) + chain.length} |`,
        );
      } finally {
        await d.close();
      }
    }
  } finally {
    await cluster?.stop();
  }
  console.log(
    `\nLogin storm: ${AGENTS} agents at once, each a signed token login (bundle delta of ${DAYS} day(s) = ${DAYS * WINDOWS_PER_DAY} windows + offline slots) then a sync of ${EVENTS} events; medians of ${RUNS} run(s)`,
  );
  if (cluster) console.log(`PostgreSQL: ${cluster.durability}`);
  console.log(
    `| deployment | gate | total s | logins/s | syncs/s | login p50 / p99 ms | logins shed | shed p50 / p99 ms | answered within ${AGENT_BUDGET_MS / 1000} s | sync p50 / p99 ms | errors, all runs | other failed checks, all runs |`,
  );
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const l of lines) console.log(l);
  if (failed) {
    console.log('\nSOME CHECKS FAILED (see PROBLEM lines above)');
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
