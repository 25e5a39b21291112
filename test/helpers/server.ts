import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { buildApp, type App } from '../../src-server/app.js';
import { openContext } from '../../src-server/bootstrap.js';
import { ManualClock } from '../../src-server/clock.js';
import type { ServerContext } from '../../src-server/context.js';
import { createLogger } from '../../src-server/logger.js';
import { tempDir } from './tmp.js';

export interface TestServer {
  url: string;
  app: App;
  ctx: ServerContext;
  clock: ManualClock;
  dataDir: string;
  /** Every log line the server wrote, for tests that prove no secret reaches the logs. */
  logLines: string[];
  close(): Promise<void>;
}

/** A real server on loopback with its own data folder, a manual clock and captured logs. */
export async function startTestServer(
  options: { clock?: ManualClock; dataDir?: string; /** PostgreSQL instead of SQLite (test/helpers/engines.ts) */ databaseUrl?: string; keyFile?: string } = {},
): Promise<TestServer> {
  const tmp = options.dataDir ? undefined : tempDir('lifeline-server-');
  const dataDir = options.dataDir ?? tmp!.dir;
  const clock = options.clock ?? new ManualClock(Date.UTC(2026, 10, 23, 9, 0, 0));
  const logLines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { logLines.push(String(chunk)); cb(); } });
  const log = createLogger({ level: 'debug', destination: sink });
  const ctx = await openContext({ dataDir, clock, log, databaseUrl: options.databaseUrl, keyFile: options.keyFile });
  const app = await buildApp(ctx);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    app,
    ctx,
    clock,
    dataDir,
    logLines,
    async close() {
      await app.close();
      await ctx.db.close();
      tmp?.cleanup();
    },
  };
}
