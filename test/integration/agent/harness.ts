import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createAgent, type Agent } from '../../../src-main/core/agent.js';
import type { AgentLogger, HttpFetch } from '../../../src-main/core/ports.js';
import type { OsKeychain } from '../../../src-main/core/keychain.js';
import { bootstrap, createUser, type AdminHarness } from '../../helpers/admin.js';
import { oathtool } from '../../helpers/oathtool.js';
import type { AdmissionLimits } from '../../../src-server/services/admission.js';
import { startTestServer, TEST_VERIFIER_FLOOR, type TestServer } from '../../helpers/server.js';
import type { VerifierCost } from '../../../src-shared/verifier-floor.js';
import { machine, TEST_SCRYPT, testKeychain } from './support.js';

export const PIN = '246810';

/**
 * A TCP relay between the agent and the real server, so a test can take the server off the network (the agent
 * then gets 'connection refused', as from a laptop on a train) and bring it back on the same address.
 */
export class Relay {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: number) {}

  async up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export interface World {
  server: TestServer;
  h: AdminHarness;
  relay: Relay;
  agent: Agent;
  keychain: OsKeychain;
  dataDir: string;
  enrollmentSecret: string;
  fingerprints: string[];
  totpSecret: string;
  /** The agent's clock = the server's clock + skew (a test moves the workstation's clock with it). */
  skew: { ms: number };
  /** A token code (oathtool) for the server's now plus `offsetMs`. */
  code(offsetMs?: number): string;
  /** Moves both clocks to 1 s into the next TOTP step (every step is accepted once). */
  nextStep(steps?: number): void;
  restartAgent(opts?: { machineName?: string; fetch?: HttpFetch }): Promise<Agent>;
  startOtherAgent(opts?: { fetch?: HttpFetch }): Promise<Agent>;
  audit(type: string): Promise<
    {
      type: string;
      outcome: string;
      device?: string | null;
      subject?: string | null;
      method?: string | null;
      reason?: string | null;
      details?: Record<string, unknown> | null;
    }[]
  >;
  close(): Promise<void>;
}

/**
 * A real server (loopback, its own SQLite and keys, manual clock), its bootstrap admin, a user `alice` with a PIN
 * and an oathtool-driven TOTP token, a default policy with `policy.offline` merged in (test scrypt parameters),
 * and a real agent core (real store, real gnome-keyring) talking to it through a Relay.
 */
export async function world(
  opts: {
    offline?: Record<string, unknown>;
    autoApprove?: boolean;
    fetch?: HttpFetch;
    logLines?: string[];
    admission?: AdmissionLimits;
    /** The agents' verifier floor (default TEST_VERIFIER_FLOOR, as the server's). */
    agentVerifierFloor?: VerifierCost;
  } = {},
): Promise<World> {
  const server = await startTestServer(opts.admission ? { admission: opts.admission } : {});
  const h = await bootstrap(server);
  const patch = await h.http('PATCH', '/api/v1/admin/settings', {
    settings: { temporaryCodesEnabled: true },
    policies: {
      default: {
        offline: { days: 1, verifierScrypt: TEST_SCRYPT, ...opts.offline },
        ...(opts.autoApprove ? { autoApproveDevices: true } : {}),
      },
    },
  });
  if (patch.status !== 200) throw new Error(`policy patch failed: ${JSON.stringify(patch.body)}`);
  const enrollmentSecret = (await h.http('GET', '/api/v1/admin/devices/enrollment-secret')).body
    .enrollmentSecret as string;
  const fingerprints = server.ctx.keys.allSigningKeys.map((k) => k.fingerprint);
  const alice = await createUser(h, 'alice', { pin: PIN, withToken: true });
  const relay = new Relay(Number(new URL(server.url).port));
  await relay.up();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'lifeline-agent-world-'));
  const keychain = testKeychain();
  const skew = { ms: 0 };
  // The server's clock is true time: the workstation's monotonic clock follows it, its wall clock is off by `skew`.
  const clock = { now: () => server.clock.now() + skew.ms, monotonic: () => server.clock.now() };
  const others: { core: Agent; dir: string }[] = [];

  const start = (dir: string, kc: OsKeychain, machineName: string, fetchFn?: HttpFetch) =>
    createAgent({
      config: {
        serverUrl: `http://127.0.0.1:${relay.port}`,
        enrollmentSecret,
        serverKeyFingerprints: fingerprints,
        dataDir: dir,
        reachabilityBudgetMs: 2_000,
      },
      keychain: kc,
      machineId: machine(machineName),
      clock,
      autoSync: false,
      verifierScryptFloor: opts.agentVerifierFloor ?? TEST_VERIFIER_FLOOR,
      ...(fetchFn ? { fetch: fetchFn } : {}),
      ...(opts.logLines ? { log: captureLog(opts.logLines) } : {}),
    });

  const w: World = {
    server,
    h,
    relay,
    agent: await start(dataDir, keychain, 'machine-a', opts.fetch),
    keychain,
    dataDir,
    enrollmentSecret,
    fingerprints,
    totpSecret: alice.totpSecret!,
    skew,
    code: (offsetMs = 0) => oathtool(alice.totpSecret!, server.clock.now() + offsetMs),
    nextStep(steps = 1) {
      server.clock.set((Math.floor(server.clock.now() / 30_000) + steps) * 30_000 + 1_000);
    },
    async restartAgent(o = {}) {
      await w.agent.close();
      w.agent = await start(dataDir, keychain, o.machineName ?? 'machine-a', o.fetch);
      return w.agent;
    },
    async startOtherAgent(o = {}) {
      const dir = mkdtempSync(path.join(tmpdir(), 'lifeline-agent-other-'));
      const core = await start(dir, testKeychain(), 'machine-b', o.fetch);
      others.push({ core, dir });
      return core;
    },
    async audit(type: string) {
      const res = await h.http('GET', `/api/v1/admin/audit?type=${encodeURIComponent(type)}&limit=500`);
      if (res.status !== 200) throw new Error(`audit query failed: ${JSON.stringify(res.body)}`);
      return res.body.events;
    },
    async close() {
      await w.agent.close();
      for (const o of others) {
        await o.core.close();
        rmSync(o.dir, { recursive: true, force: true });
      }
      await relay.down();
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return w;
}

/** Log lines as text, so tests can see why something was refused (and that no secret is ever logged). */
function captureLog(lines: string[]): AgentLogger {
  const line = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    lines.push(`${level} ${msg} ${fields ? JSON.stringify(fields) : ''}`);
  return { info: line('info'), warn: line('warn'), error: line('error') };
}

/** Approves the agent's device through the admin API. */
export async function approve(w: World, agent = w.agent): Promise<void> {
  const id = agent.device().deviceId;
  const res = await w.h.http('POST', `/api/v1/admin/devices/${id}/approve`, {});
  if (res.status !== 200) throw new Error(`approve failed: ${res.status} ${JSON.stringify(res.body)}`);
}

/** Online login with the token code of the current step, then waits for the verifiers to be built. */
export async function tokenLogin(w: World, agent = w.agent) {
  w.nextStep();
  const r = await agent.login({ username: 'alice', pin: PIN, code: w.code(), purpose: 'logon' });
  await agent.whenIdle();
  return r;
}

export function tokenVerifiers(agent: Agent, username = 'alice'): number {
  const store = agent.store!;
  return store.countVerifiers(store.userRef(username), 'token');
}

export function slotVerifiers(agent: Agent, username = 'alice'): number {
  const store = agent.store!;
  return store.verifiers(store.userRef(username), 'slot').length;
}
