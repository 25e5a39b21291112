import { mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { buildApp } from '../app.js';
import { openContext } from '../bootstrap.js';
import { systemClock } from '../clock.js';
import type { ServerContext } from '../context.js';
import type { Logger } from '../logger.js';
import { startRadiusServer, type RadiusServer } from '../radius/server.js';
import { resolveAdmissionLimits, type AdmissionEnv } from '../services/admission.js';
import { ensureBootstrapAdmin } from '../services/admins.js';
import { startCheckpointTimer, writeCheckpoint } from '../services/audit-checkpoint.js';
import { startHousekeeping } from '../services/housekeeping.js';
import { startNotificationDelivery } from '../services/notifier.js';
import type { Cli } from './args.js';
import { revealInitialAdmin } from './first-start.js';
import { acquireServerLock } from './lock.js';

/** Environment the server reads (only here: the composition root). */
export interface ServeEnv extends AdmissionEnv {
  LIFELINE_ADMIN_PASSWORD?: string;
  LIFELINE_ADMIN_TOTP_SECRET?: string;
  LIFELINE_SMTP_URL?: string;
  LIFELINE_SMTP_FROM?: string;
}

const CHECKPOINT_EVERY_MS = 10 * 60 * 1000;

/** Starts the server and resolves once it listens; returns the shutdown routine the signal handlers call. */
export async function serve(cli: Cli, env: ServeEnv, log: Logger, out: { tty: boolean; write: (s: string) => void }): Promise<{ url: string; shutdown: (signal: string) => Promise<void> }> {
  const databaseUrl = cli.database;
  mkdirSync(cli.dataDir, { recursive: true, mode: 0o700 });
  const releaseLock = databaseUrl ? () => undefined : acquireServerLock(cli.dataDir);
  let ctx: ServerContext | undefined;
  let sealing: { stop(): Promise<void> } | undefined;
  try {
    ctx = await openContext({ dataDir: cli.dataDir, clock: systemClock, log, ...(databaseUrl ? { databaseUrl } : {}) });
    // PostgreSQL: this instance seals the audit chain, or stands by to take over (services/audit-sealer.ts).
    sealing = ctx.audit.startSealing(log);
    return await start(cli, env, log, out, ctx, sealing, releaseLock);
  } catch (err) {
    // A missing key file, a port in use, an unreadable certificate: leave nothing open behind the error.
    await sealing?.stop().catch(() => undefined);
    await ctx?.db.close().catch(() => undefined);
    releaseLock();
    throw err;
  }
}

async function start(cli: Cli, env: ServeEnv, log: Logger, out: { tty: boolean; write: (s: string) => void }, ctx: ServerContext, sealing: { stop(): Promise<void> }, releaseLock: () => void): Promise<{ url: string; shutdown: (signal: string) => Promise<void> }> {
  const made = await ensureBootstrapAdmin(ctx, {
    ...(env.LIFELINE_ADMIN_PASSWORD ? { password: env.LIFELINE_ADMIN_PASSWORD } : {}),
    ...(env.LIFELINE_ADMIN_TOTP_SECRET ? { totpSecret: env.LIFELINE_ADMIN_TOTP_SECRET } : {}),
  });
  if (made.created) {
    revealInitialAdmin(
      {
        username: made.username,
        ...(env.LIFELINE_ADMIN_PASSWORD ? {} : { password: made.password }),
        ...(env.LIFELINE_ADMIN_TOTP_SECRET ? {} : { totpSecret: made.totpSecret, otpauthUri: made.otpauthUri }),
      },
      { tty: out.tty, dataDir: cli.dataDir, log, write: out.write },
    );
  }

  const https = cli.tls ? { cert: readFileSync(cli.tls.certFile), key: readFileSync(cli.tls.keyFile) } : undefined;
  const admission = resolveAdmissionLimits(cli.admission, env);
  let radius: RadiusServer | undefined;
  const app = await buildApp(ctx, {
    admission,
    timeouts: cli.timeouts,
    radiusStats: () => radius?.stats,
    ...(https ? { https } : {}),
    ...(cli.trustProxy ? { trustProxy: cli.trustProxy } : {}),
  });
  await app.listen({ host: cli.host, port: cli.port });
  const { port } = app.server.address() as AddressInfo;
  const shownHost = cli.host.includes(':') ? `[${cli.host}]` : cli.host;
  const url = `${https ? 'https' : 'http'}://${shownHost}:${port}`;

  try {
    radius = cli.radiusPort !== undefined ? await startRadiusServer(ctx, { host: cli.host, port: cli.radiusPort, admission: app.admission }) : undefined;
  } catch (err) {
    await app.close();
    throw err;
  }
  await writeCheckpoint(ctx);
  const checkpoints = startCheckpointTimer(ctx, CHECKPOINT_EVERY_MS);
  const housekeeping = startHousekeeping(ctx);
  const mail = env.LIFELINE_SMTP_URL ? startNotificationDelivery(ctx, { smtpUrl: env.LIFELINE_SMTP_URL, from: env.LIFELINE_SMTP_FROM ?? 'lifeline@localhost' }) : undefined;

  log.info({ component: 'server', url, console: `${url}/console`, api: `${url}/api/v1/openapi.json`, radiusPort: radius?.port ?? null, admission, timeouts: cli.timeouts }, 'Lifeline server listening');
  out.write(`Lifeline server: ${url}\n  console: ${url}/console\n  API:     ${url}/api/v1/openapi.json\n${radius ? `  RADIUS:  udp ${cli.host}:${radius.port}\n` : ''}`);

  let closing: Promise<void> | undefined;
  const shutdown = (signal: string) =>
    (closing ??= (async () => {
      log.info({ component: 'server', signal }, 'shutting down');
      checkpoints.stop();
      housekeeping.stop();
      mail?.stop();
      await radius?.close();
      await app.close();
      await writeCheckpoint(ctx);
      await sealing.stop();
      await ctx.db.close();
      releaseLock();
      log.info({ component: 'server' }, 'stopped');
    })());
  return { url, shutdown };
}

