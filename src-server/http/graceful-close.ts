import type { Server } from 'node:http';

/**
 * A graceful close that does not wait for silent connections. On close, Node's `server.close()` ends keep-alive
 * connections that sit between requests, but not one that was opened and has not sent a request yet (a balancer's or
 * browser's pre-connect, a client that gave up while connecting): each of those would hold a SIGTERM shutdown until
 * `headersTimeout` (60 s), past many service managers' stop timeout. So once the server is closing and no request is
 * in progress, every remaining connection is closed. Requests in progress finish and get their answers; one that
 * arrives meanwhile is answered 503 by Fastify (`return503OnClosing`).
 */
export function silentConnectionCloser(server: Server): { closing(): void } {
  let inProgress = 0;
  let closing = false;
  const closeIfQuiet = (): void => {
    if (closing && inProgress === 0) server.closeAllConnections();
  };
  server.on('request', (_req, res) => {
    inProgress++;
    res.once('close', () => {
      inProgress--;
      closeIfQuiet();
    });
  });
  return {
    /** Call from Fastify's preClose hook; Fastify calls server.close() right after it, so check once it has. */
    closing() {
      closing = true;
      setImmediate(closeIfQuiet);
    },
  };
}
