import { createLogger } from './logger.js';
import { loadServerConfig, USAGE, UsageError, type ServerConfig } from './cli/args.js';
import { adminCreateCommand, auditVerifyCommand, backupCommand, initCommand, restoreCommand } from './cli/commands.js';
import { migrateDataCommand } from './cli/migrate-data.js';
import { keysCommand } from './cli/keys.js';
import { serve } from './cli/serve.js';

/**
 * The server's entry and composition root: the one place that reads the command line and the environment (into one
 * ServerConfig, cli/args.ts), opens sockets and installs signal handlers (`npm run server -- …`).
 */
async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let config: ServerConfig;
  try {
    config = loadServerConfig(argv, env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`lifeline-server: ${err.message}\n\n${USAGE}\n`);
    return 2;
  }
  const out = (s: string) => void process.stdout.write(s);
  // Commands write their results to stdout; their logs go to stderr so the two do not mix.
  const commandLog = () => createLogger({ level: config.logLevel, destination: process.stderr });
  const c = config.command;
  switch (c.kind) {
    case 'help':
      out(USAGE + '\n');
      return 0;
    case 'init':
      return initCommand(config, Date.now(), out);
    case 'admin-create':
      return adminCreateCommand({ ...config, command: c }, commandLog(), out);
    case 'keys':
      return keysCommand(config.dataDir, undefined, c.keys, Date.now(), out);
    case 'audit-verify':
      return auditVerifyCommand(config, commandLog(), out);
    case 'backup':
      return backupCommand({ ...config, command: c }, out);
    case 'restore':
      return restoreCommand({ ...config, command: c }, Date.now(), out);
    case 'migrate-data':
      return migrateDataCommand({ from: c.from, to: c.to, log: commandLog() }, out);
    case 'serve': {
      const log = createLogger({ level: config.logLevel });
      const { shutdown } = await serve(config, log, { tty: Boolean(process.stdout.isTTY), write: out });
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        process.once(signal, () => {
          shutdown(signal).then(
            () => process.exit(0),
            (err: unknown) => {
              log.error(
                { component: 'server', err: err instanceof Error ? err.message : String(err) },
                'unclean shutdown',
              );
              process.exit(1);
            },
          );
        });
      }
      return -1; // keep running
    }
  }
}

main(process.argv.slice(2), process.env).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`lifeline-server: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
