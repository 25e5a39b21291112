import { mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { buildApp } from '../app.js';
import { openContext } from '../bootstrap.js';
import { systemClock } from '../clock.js';
import type { ServerContext } from '../context.js';
import type { Logger } from '../logger.js';
import { startRadiusServer, type RadiusServer } from '../radius/server.js';
import { ensureBootstrapAdmin } from '../services/admins.js';
import { startCheckpointTimer, writeCheckpoint } from '../services/audit-checkpoint.js';
import { startHousekeeping } from '../services/housekeeping.js';
import { startNotificationDelivery } from '../services/notifier.js';
import type { ServerConfig } from './args.js';
import { revealInitialAdmin } from './first-start.js';
import { acquireServerLock } from './lock.js';

const CHECKPOINT_EVERY_MS = 10 * 60 * 1000;

/** Starts the server and resolves once it listens; returns the shutdown routine the signal handlers call. */
export async function serve(
  config: ServerConfig,
  log: Logger,
  out: { tty: boolean; write: (s: string) => void },
): Promise<{ url: string; shutdown: (signal: string) => Promise<void> }> {
  const databaseUrl = config.database;
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const releaseLock = databaseUrl ? () => undefined : acquireServerLock(config.dataDir);
  let ctx: ServerContext | undefined;
  let sealing: { stop(): Promise<void> } | undefined;
  try {
    ctx = await openContext({
      dataDir: config.dataDir,
      clock: systemClock,
      log,
      pg: config.pg,
      ...(databaseUrl ? { databaseUrl } : {}),
    });
    // PostgreSQL: this instance seals the audit chain, or stands by to take over (services/audit-sealer.ts).
    sealing = ctx.audit.startSealing(log);
    return await start(config, log, out, ctx, sealing, releaseLock);
  } catch (err) {
    // A missing key file, a port in use, an unreadable certificate: leave nothing open behind the error.
    await sealing?.stop().catch(() => undefined);
    await ctx?.db.close().catch(() => undefined);
    releaseLock();
    throw err;
  }
}

async function start(
  config: ServerConfig,
  log: Logger,
  out: { tty: boolean; write: (s: string) => void },
  ctx: ServerContext,
  sealing: { stop(): Promise<void> },
  releaseLock: () => void,
): Promise<{ url: string; shutdown: (signal: string) => Promise<void> }> {
  const given = config.initialAdmin;
  const made = await ensureBootstrapAdmin(ctx, {
    ...(given.password ? { password: given.password } : {}),
    ...(given.totpSecret ? { totpSecret: given.totpSecret } : {}),
  });
  if (made.created) {
    revealInitialAdmin(
      {
        username: made.username,
        ...(given.password ? {} : { password: made.password }),
        ...(given.totpSecret ? {} : { totpSecret: made.totpSecret, otpauthUri: made.otpauthUri }),
      },
      { tty: out.tty, dataDir: config.dataDir, log, write: out.write },
    );
  }

  const https = config.tls
    ? { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) }
    : undefined;
  const admission = config.admission;
  let radius: RadiusServer | undefined;
  const app = await buildApp(ctx, {
    admission,
    timeouts: config.timeouts,
    radiusStats: () => radius?.stats,
    ...(https ? { https } : {}),
    ...(config.trustProxy ? { trustProxy: config.trustProxy } : {}),
  });
  await app.listen({ host: config.host, port: config.port });
  const { port } = app.server.address() as AddressInfo;
  const shownHost = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `${https ? 'https' : 'http'}://${shownHost}:${port}`;

  try {
    radius =
      config.radiusPort !== undefined
        ? await startRadiusServer(ctx, { host: config.host, port: config.radiusPort, admission: app.admission })
        : undefined;
  } catch (err) {
    await app.close();
    throw err;
  }
  await writeCheckpoint(ctx);
  const checkpoints = startCheckpointTimer(ctx, CHECKPOINT_EVERY_MS);
  const housekeeping = startHousekeeping(ctx);
  const mail = config.smtp
    ? startNotificationDelivery(ctx, { smtpUrl: config.smtp.url, from: config.smtp.from })
    : undefined;

  log.info(
    {
      component: 'server',
      url,
      console: `${url}/console`,
      api: `${url}/api/v1/openapi.json`,
      radiusPort: radius?.port ?? null,
      admission,
      timeouts: config.timeouts,
    },
    'Lifeline server listening',
  );
  out.write(
    `Lifeline server: ${url}\n  console: ${url}/console\n  API:     ${url}/api/v1/openapi.json\n${radius ? `  RADIUS:  udp ${config.host}:${radius.port}\n` : ''}`,
  );

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
