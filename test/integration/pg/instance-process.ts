import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A real `lifeline-server` process (src-server/main.ts through tsx) on a PostgreSQL database, for tests that kill an
 * instance with SIGKILL. Resolves once it prints its URL.
 */
export interface InstanceProcess {
  url: string;
  child: ChildProcess;
  output: string[];
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export function startInstanceProcess(o: {
  databaseUrl: string;
  dataDir: string;
  env: Record<string, string>;
}): Promise<InstanceProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src-server/main.ts', '--database', o.databaseUrl, '--data', o.dataDir, '--port', '0'],
    {
      cwd: repo,
      env: { ...process.env, LIFELINE_LOG_LEVEL: 'warn', ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void kill('SIGKILL');
      reject(new Error(`instance did not start within 60 s:\n${output.join('')}`));
    }, 60_000);
    const onData = (chunk: Buffer) => {
      output.push(String(chunk));
      const m = /Lifeline server: (http:\/\/\S+)/.exec(output.join(''));
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1]!, child, output, kill });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => output.push(String(c)));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`instance exited (${code ?? signal}) before listening:\n${output.join('')}`));
    });
  });
}
