import { createRequire } from 'node:module';
import path from 'node:path';
import { createAgent, type Agent, type AgentDeps } from '../core/agent.js';
import { AgentService } from '../core/agent-service.js';
import { DEFAULTS } from '../core/config/schema.js';
import { createAgentLogger, type AgentLogLevel } from '../core/logger.js';
import type { MachineId } from '../core/ports.js';
import { startBrowserShell, type BrowserShell } from './server.js';

/**
 * The browser shell's composition root: the real agent core and its AgentService behind the loopback shell.
 * `npm start`, the end-to-end tests and the benchmark all start the agent through here.
 */

export interface LaunchedAgent {
  core: Agent;
  service: AgentService;
  shell: BrowserShell;
  close(): Promise<void>;
}

/** node-machine-id's SHA-256 of the OS machine id (CommonJS only, hence require). */
export function osMachineId(): MachineId {
  const { machineId } = createRequire(import.meta.url)('node-machine-id') as typeof import('node-machine-id');
  return { hash: () => machineId() };
}

export interface BrowserShellLogOptions {
  /** Folder of agent.log (default: logs/ in the agent's data folder). */
  dir?: string;
  level?: AgentLogLevel;
  /** The browser shell is a development shell: its lines go to stderr too unless this is false. */
  console?: boolean;
}

/** Starts the agent with the log file of src-main/core/logger.ts, unless the caller brings its own logger in `deps.log`. */
export async function launchBrowserShell(options: {
  deps: AgentDeps;
  rendererDir: string;
  port?: number;
  log?: BrowserShellLogOptions;
}): Promise<LaunchedAgent> {
  const fileLog = options.deps.log
    ? null
    : createAgentLogger({
        dir: options.log?.dir ?? path.join(options.deps.config.dataDir, 'logs'),
        level: options.log?.level ?? DEFAULTS.logLevel,
        console: options.log?.console ?? true,
      });
  const core = await createAgent(fileLog ? { ...options.deps, log: fileLog } : options.deps).catch((err: unknown) => {
    fileLog?.close();
    throw err;
  });
  const service = new AgentService(core);
  const shell = await startBrowserShell({
    api: service,
    rendererDir: options.rendererDir,
    ...(options.port !== undefined ? { port: options.port } : {}),
  });
  return {
    core,
    service,
    shell,
    async close() {
      await shell.close();
      await core.close();
      fileLog?.close();
    },
  };
}
