import path from 'node:path';
import { createAgentLogger, type AgentFileLogger, type AgentLogLevel } from '../core/logger.js';

/**
 * The Electron agent's log: logs/agent.log in the user's app-data folder (Electron's userData), at the configured
 * level; a development run (not packaged) writes to the console too. main.ts hands it to the core.
 */
export function electronAgentLogger(
  app: { isPackaged: boolean },
  userData: string,
  level: AgentLogLevel,
): AgentFileLogger {
  return createAgentLogger({ dir: path.join(userData, 'logs'), level, console: !app.isPackaged });
}
