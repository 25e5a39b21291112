import { createServer, Socket, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../../../src-main/core/agent.js';
import { AgentService } from '../../../src-main/core/agent-service.js';
import type { ReachabilityTiming } from '../../../src-main/core/reachability.js';
import { StatusResponseSchema } from '../../../src-shared/ipc.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { tempDir } from '../../helpers/tmp.js';
import { agentDeps, testKeychain } from './support.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The network between agent and server, switchable: 'forward' to the server's port, 'silent' (accepts and never
 * answers, as a firewall that drops packets looks to the agent after the handshake), or 'refuse' (closes at once).
 * It counts connections and the health requests it forwards, so a test sees what the agent sends.
 */
class Line {
  mode: 'forward' | 'silent' | 'refuse' = 'forward';
  connections = 0;
  healthRequests = 0;
  private readonly sockets = new Set<Socket>();
  private constructor(
    private readonly server: Server,
    public target: number,
    readonly url: string,
  ) {}

  static async open(target: number): Promise<Line> {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const line = new Line(server, target, `http://127.0.0.1:${(server.address() as { port: number }).port}`);
    server.on('connection', (client) => line.accept(client));
    return line;
  }

  /** Switches the line; open (keep-alive) connections are cut so the next request meets the new mode. */
  set(mode: Line['mode']): void {
    this.mode = mode;
    for (const s of this.sockets) s.destroy();
  }

  private accept(client: Socket): void {
    this.connections++;
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => client.destroy());
    if (this.mode === 'refuse') return void client.destroy();
    if (this.mode === 'silent') return; // read nothing, answer nothing
    const upstream = new Socket();
    this.sockets.add(upstream);
    upstream.on('close', () => {
      this.sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => upstream.destroy()); // a stopped server: the agent's connection closes unanswered
    upstream.connect(this.target, '127.0.0.1'); // writes before the connection is up are queued by the socket
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('data', (chunk: Buffer) => {
      this.healthRequests += chunk.toString('latin1').split('GET /healthz ').length - 1;
    });
  }

  async close(): Promise<void> {
    this.set('refuse');
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

async function agentBehind(line: Line, timing: Partial<ReachabilityTiming>): Promise<Agent> {
  const t = tempDir('lifeline-agent-reach-');
  cleanups.push(t.cleanup);
  const core = await createAgent({
    ...agentDeps(t.dir, testKeychain(), { serverUrl: line.url }),
    reachabilityTiming: timing,
  });
  cleanups.push(() => core.close());
  return core;
}

async function serverAndLine(): Promise<{ server: TestServer; line: Line }> {
  const server = await startTestServer();
  const line = await Line.open(Number(new URL(server.url).port));
  cleanups.push(() => line.close());
  return { server, line };
}

async function timedStatus(service: AgentService) {
  const started = performance.now();
  const answer = StatusResponseSchema.parse(await service.status());
  if (!answer.ok) throw new Error(`status failed: ${answer.message}`);
  return { ...answer, elapsed: performance.now() - started };
}

describe('reachability: the status knows whether the server answers, without a sign-in', () => {
  it('flips to unreachable within the budget plus half a second of being asked (silent and stopped server) and back when it returns', async () => {
    const { server: first, line } = await serverAndLine();
    let server = first;
    const maxAgeMs = 300;
    const core = await agentBehind(line, { maxAgeMs, intervalMs: 60 * 60_000 });
    const service = new AgentService(core);
    const budget = core.config.reachabilityBudgetMs;

    const up = await timedStatus(service);
    expect(up.server).toMatchObject({ reachable: true, lastContactAt: null });
    expect(up.server.checkedAt).not.toBeNull();
    const asked = line.healthRequests;
    expect(asked).toBeGreaterThan(0);
    expect((await timedStatus(service)).server.reachable).toBe(true);
    expect(line.healthRequests).toBe(asked); // a check younger than maxAgeMs is reused, not repeated

    // Packets dropped after the handshake: the answer comes from the budget, not from the network.
    line.set('silent');
    await sleep(maxAgeMs + 50);
    const silent = await timedStatus(service);
    expect(silent.server.reachable).toBe(false);
    expect(silent.elapsed).toBeLessThan(budget + 500);
    expect(silent.elapsed).toBeGreaterThanOrEqual(budget - 50); // it really waited on a silent server
    expect(silent.server.checkedAt!).toBeGreaterThanOrEqual(up.server.checkedAt!);

    // Back, then the server process really stopped.
    line.set('forward');
    await sleep(maxAgeMs + 50);
    expect((await timedStatus(service)).server.reachable).toBe(true);
    await server.close();
    await sleep(maxAgeMs + 50);
    const stopped = await timedStatus(service);
    expect(stopped.server.reachable).toBe(false);
    expect(stopped.elapsed).toBeLessThan(budget + 500);

    // Restarted (on another port, behind the same address): reachable again at the next request, no sign-in.
    server = await startTestServer();
    cleanups.push(() => server.close());
    line.target = Number(new URL(server.url).port);
    await sleep(maxAgeMs + 50);
    const back = await timedStatus(service);
    expect(back.server).toMatchObject({ reachable: true, lastContactAt: null });
    expect(back.device).toMatchObject({ state: 'unenrolled', id: null }); // nothing but the health probe was sent
    expect(back.elapsed).toBeLessThan(budget + 500);
  });

  it('checks in the background while the agent runs, and closing the core stops it (no timer, no probe left)', async () => {
    const { line } = await serverAndLine();
    const intervalMs = 200;
    const core = await agentBehind(line, { maxAgeMs: 60 * 60_000, intervalMs });

    await sleep(intervalMs * 3.5);
    expect(line.healthRequests).toBeGreaterThanOrEqual(2); // at start, then on its own without any status request
    expect(core.reachability.reachable).toBe(true);

    line.set('refuse');
    await expect.poll(() => core.reachability.reachable, { timeout: intervalMs * 5 }).toBe(false);

    // Close while a probe waits on a silent server: close does not wait out the budget, and nothing runs after it.
    line.set('silent');
    const connectionsBefore = line.connections;
    await expect.poll(() => line.connections, { timeout: intervalMs * 5 }).toBeGreaterThan(connectionsBefore);
    const closing = performance.now();
    await core.close();
    expect(performance.now() - closing).toBeLessThan(500);
    // With the server answering again, a timer left behind would show as a health request.
    line.set('forward');
    const afterClose = line.healthRequests;
    await sleep(intervalMs * 4);
    expect(line.healthRequests).toBe(afterClose);
    expect(core.reachability.reachable).toBe(false); // and nothing recorded after the close
  });
});
