import { createServer, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, silentLogger } from '../../../src-main/core/ports.js';
import { Reachability } from '../../../src-main/core/reachability.js';
import { ServerClient } from '../../../src-main/core/server-client.js';

const NOW = Date.UTC(2026, 10, 23, 9, 0, 0);
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A real loopback server whose /healthz answers only when the test releases it. */
async function heldHealthServer() {
  const held: ServerResponse[] = [];
  let requests = 0;
  const server = createServer((req, res) => {
    if (req.url !== '/healthz') return void res.writeHead(404).end();
    requests++;
    held.push(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    requests: () => requests,
    release() {
      for (const res of held.splice(0)) res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    },
  };
}

function reachabilityFor(url: string, clock = new ManualClock(NOW)) {
  const r = new Reachability(new ServerClient(url, (u, init) => fetch(u, init), silentLogger), clock, 2_000, {
    maxAgeMs: 15_000,
    intervalMs: 60_000,
  });
  cleanups.push(() => r.stop());
  return r;
}

describe('Reachability (real loopback server)', () => {
  it('a probe that began before a sign-in decided does not overwrite that newer decision', async () => {
    const server = await heldHealthServer();
    const r = reachabilityFor(server.url);
    const probe = r.probe();
    await expect.poll(server.requests).toBe(1);
    r.record(false); // a sign-in found the server unreachable while the probe waited
    server.release();
    await probe;
    expect(r.reachable).toBe(false);

    const next = r.probe(); // a probe begun after it counts
    await expect.poll(server.requests).toBe(2);
    server.release();
    await next;
    expect(r.reachable).toBe(true);
    expect(r.checkedAt).toBe(NOW);
  });

  it('concurrent status requests share one probe, and a fresh decision is reused whatever the wall clock does', async () => {
    const server = await heldHealthServer();
    const clock = new ManualClock(NOW);
    const r = reachabilityFor(server.url, clock);
    const both = Promise.all([r.fresh(), r.fresh()]);
    await expect.poll(server.requests).toBe(1);
    server.release();
    await both;
    expect(server.requests()).toBe(1);
    expect(r.reachable).toBe(true);

    clock.advance(24 * 60 * 60_000); // the workstation clock jumps a day: the check is still seconds old
    await r.fresh();
    expect(server.requests()).toBe(1);
    const again = r.fresh(0); // older than 0 ms: asked again
    await expect.poll(server.requests).toBe(2);
    server.release();
    await again;
    expect(r.checkedAt).toBe(NOW + 24 * 60 * 60_000);
  });
});
