import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { buildApp, type App } from '../../src-server/app.js';
import { openContext } from '../../src-server/bootstrap.js';
import { ManualClock } from '../../src-server/clock.js';
import type { ServerContext } from '../../src-server/context.js';
import type { PgOptions } from '../../src-server/db/postgres.js';
import type { AdmissionLimits } from '../../src-server/services/admission.js';
import type { HttpTimeouts } from '../../src-server/http/timeouts.js';
import { createLogger } from '../../src-server/logger.js';
import { defaultTestEngine, newPgDeployment, type Engine, type PgDeployment } from './engines.js';
import { tempDir } from './tmp.js';
import type { VerifierCost } from '../../src-shared/verifier-floor.js';

export interface TestServer {
  url: string;
  app: App;
  ctx: ServerContext;
  clock: ManualClock;
  dataDir: string;
  /** Every log line the server wrote, for tests that prove no secret reaches the logs. */
  logLines: string[];
  engine: Engine;
  /** On PostgreSQL: what another instance needs to join this deployment (`startTestServer({ join })`). */
  deployment?: PgDeployment;
  close(): Promise<void>;
}

/**
 * The race tests fire 50 to 200 verifications at once to prove a code is used once: every one must be decided, not
 * shed by the instance's admission gate, which on a slow machine would shed some of them. Shedding has its own tests
 * (test/integration/admission), which pass their limits; the real CLI instances (test/integration/pg/kill-instance)
 * and the benchmarks run with the defaults.
 */
const WIDE_OPEN_GATE: AdmissionLimits = { maxInFlight: 10_000, maxWaiting: 100_000, maxWaitMs: 60_000 };

/**
 * Tests hash offline verifiers with a light scrypt (a day of token windows at the real floor takes the machine
 * seconds), so test servers and agents take the schema's lowest; the floor's own tests pass VERIFIER_SCRYPT_FLOOR.
 */
export const TEST_VERIFIER_FLOOR: VerifierCost = { N: 2 ** 4, r: 1, p: 1 };

/** A real server on loopback with its own data folder, a manual clock and captured logs. */
export async function startTestServer(
  options: {
    clock?: ManualClock;
    dataDir?: string;
    /** Defaults to LIFELINE_TEST_ENGINE (test/helpers/engines.ts); postgres gets a fresh database, dropped by close(). */
    engine?: Engine;
    /** Another instance of an existing PostgreSQL deployment: same database and key file, its own pool and folder. */
    join?: PgDeployment;
    /** PostgreSQL pool settings (pool size, acquire wait) for tests of behaviour under pool pressure. */
    pg?: PgOptions;
    /** Verification admission limits, for tests of shedding under load (default: wide open, see WIDE_OPEN_GATE). */
    admission?: AdmissionLimits;
    /** The least verifier cost a policy may set (default TEST_VERIFIER_FLOOR). */
    verifierScryptFloor?: VerifierCost;
    /** Syncs per device per window (default: wide open; the manual clock never lets a real window pass). */
    deviceSyncLimit?: { maxRequests: number; windowMs: number };
    /** Connection timeouts, for tests of slow and idle clients (default: the server's, http/timeouts.ts). */
    timeouts?: HttpTimeouts;
  } = {},
): Promise<TestServer> {
  const engine = options.join ? 'postgres' : (options.engine ?? defaultTestEngine());
  const fresh = engine === 'postgres' && !options.join ? await newPgDeployment() : undefined;
  const deployment = options.join ?? fresh;
  const tmp = options.dataDir ? undefined : tempDir('lifeline-server-');
  const dataDir = options.dataDir ?? tmp!.dir;
  const clock = options.clock ?? new ManualClock(Date.UTC(2026, 10, 23, 9, 0, 0));
  const logLines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      cb();
    },
  });
  const log = createLogger({ level: 'debug', destination: sink });
  const ctx = await openContext({
    dataDir,
    clock,
    log,
    ...(options.pg ? { pg: options.pg } : {}),
    ...(deployment ? { databaseUrl: deployment.databaseUrl, keyFile: deployment.keyFile } : {}),
  }).catch(async (err: unknown) => {
    await fresh?.cleanup();
    throw err;
  });
  // What the serve command does: on PostgreSQL this instance seals the audit chain or stands by (audit-sealer.ts).
  const sealing = ctx.audit.startSealing(log);
  ctx.verifierScryptFloor = options.verifierScryptFloor ?? TEST_VERIFIER_FLOOR;
  ctx.deviceSyncLimit = options.deviceSyncLimit ?? { maxRequests: 1_000_000, windowMs: 60_000 };
  const app = await buildApp(ctx, {
    admission: options.admission ?? WIDE_OPEN_GATE,
    ...(options.timeouts ? { timeouts: options.timeouts } : {}),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    app,
    ctx,
    clock,
    dataDir,
    logLines,
    engine,
    ...(deployment ? { deployment } : {}),
    async close() {
      await app.close();
      await sealing.stop();
      await ctx.db.close();
      tmp?.cleanup();
      await fresh?.cleanup();
    },
  };
}
