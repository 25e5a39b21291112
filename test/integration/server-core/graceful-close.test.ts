import net from 'node:net';
import { expect, it } from 'vitest';
import { bootstrap } from '../../helpers/admin.js';
import { forEachEngine } from '../../helpers/engines.js';
import { startTestServer } from '../../helpers/server.js';

/** A TCP connection to the server that sends nothing, as a balancer's pre-connect does. */
async function silentConnection(url: string): Promise<net.Socket> {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return socket;
}

forEachEngine('graceful close', (engine) => {
  it('finishes the request in progress with its answer, and does not wait for a connection that never sent a request', async () => {
    // One place and one waiter: a verification that waits in the gate stays in progress for maxWaitMs.
    const server = await startTestServer({ engine, admission: { maxInFlight: 1, maxWaiting: 1, maxWaitMs: 1_500 } });
    const silent = await silentConnection(server.url);
    const silentClosed = new Promise<void>((resolve) => silent.once('close', () => resolve()));
    try {
      const h = await bootstrap(server);
      const client = await h.http('POST', '/api/v1/admin/clients', { name: 'vpn' });
      const release = await server.app.admission.enter();
      expect(release).not.toBeNull();
      const inProgress = fetch(`${server.url}/api/v1/verify`, {
        method: 'POST',
        headers: { authorization: `Bearer ${client.body.key as string}`, 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'nobody', code: '123456', purpose: 'logon' }),
      });
      while (server.app.admission.stats().waiting === 0) await new Promise((r) => setTimeout(r, 5));

      const started = performance.now();
      const closed = server.app.close();
      release!();
      // The waiting verification was admitted once the place came back and got its real answer, not a cut socket.
      const answer = await inProgress;
      expect(answer.status).toBe(401);
      await closed;
      await silentClosed;
      // Without closing silent connections, close() waits for the silent one until headersTimeout (60 s).
      expect(performance.now() - started).toBeLessThan(10_000);
    } finally {
      silent.destroy();
      await server.close();
    }
  }, 30_000);
});
