import { createRequire } from 'node:module';
import { AgentCore, type AgentDeps } from '../core/agent-core.js';
import { AgentService } from '../core/agent-service.js';
import type { MachineId } from '../core/ports.js';
import { startBrowserShell, type BrowserShell } from './server.js';

/**
 * The browser shell's composition root: the real agent core and its AgentService behind the loopback shell.
 * `npm start`, the end-to-end tests and the benchmark all start the agent through here.
 */

export interface LaunchedAgent {
  core: AgentCore;
  service: AgentService;
  shell: BrowserShell;
  close(): Promise<void>;
}

/** node-machine-id's SHA-256 of the OS machine id (CommonJS only, hence require). */
export function osMachineId(): MachineId {
  const { machineId } = createRequire(import.meta.url)('node-machine-id') as typeof import('node-machine-id');
  return { hash: () => machineId() };
}

export async function launchBrowserShell(options: { deps: AgentDeps; rendererDir: string; port?: number }): Promise<LaunchedAgent> {
  const core = await AgentCore.start(options.deps);
  const service = new AgentService(core);
  const shell = await startBrowserShell({ api: service, rendererDir: options.rendererDir, ...(options.port !== undefined ? { port: options.port } : {}) });
  return {
    core,
    service,
    shell,
    async close() {
      await shell.close();
      await core.close();
    },
  };
}
