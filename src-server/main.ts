import { createLogger } from './logger.js';
import { parseCli, USAGE, UsageError, type Cli } from './cli/args.js';
import { adminCreateCommand, auditVerifyCommand, backupCommand, initCommand, restoreCommand } from './cli/commands.js';
import { migrateDataCommand } from './cli/migrate-data.js';
import { keysCommand } from './cli/keys.js';
import { serve } from './cli/serve.js';

/**
 * The server's entry and composition root: the one place that reads the command line and the environment, opens
 * sockets and installs signal handlers (`npm run server -- …`).
 */
async function main(argv: string[]): Promise<number> {
  let cli: Cli;
  try {
    cli = parseCli(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`lifeline-server: ${err.message}\n\n${USAGE}\n`);
    return 2;
  }
  // The flag wins over the environment; every command then sees one choice.
  if (!cli.database && process.env.LIFELINE_DATABASE_URL) cli = { ...cli, database: process.env.LIFELINE_DATABASE_URL };
  const out = (s: string) => void process.stdout.write(s);
  // Commands write their results to stdout; their logs go to stderr so the two do not mix.
  const commandLog = () => createLogger({ level: process.env.LIFELINE_LOG_LEVEL ?? 'warn', destination: process.stderr });
  const c = cli.command;
  switch (c.kind) {
    case 'help':
      out(USAGE + '\n');
      return 0;
    case 'init':
      return initCommand(cli, Date.now(), out);
    case 'admin-create':
      return adminCreateCommand({ ...cli, command: c }, commandLog(), out);
    case 'keys':
      return keysCommand(cli.dataDir, undefined, c.keys, Date.now(), out);
    case 'audit-verify':
      return auditVerifyCommand(cli, commandLog(), out);
    case 'backup':
      return backupCommand({ ...cli, command: c }, out);
    case 'restore':
      return restoreCommand({ ...cli, command: c }, Date.now(), out);
    case 'migrate-data':
      return migrateDataCommand({ from: c.from, to: c.to, log: commandLog() }, out);
    case 'serve': {
      const log = createLogger({ level: process.env.LIFELINE_LOG_LEVEL ?? 'info' });
      const { shutdown } = await serve(cli, process.env, log, { tty: Boolean(process.stdout.isTTY), write: out });
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        process.once(signal, () => {
          shutdown(signal).then(
            () => process.exit(0),
            (err: unknown) => {
              log.error({ component: 'server', err: err instanceof Error ? err.message : String(err) }, 'unclean shutdown');
              process.exit(1);
            },
          );
        });
      }
      return -1; // keep running
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`lifeline-server: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
