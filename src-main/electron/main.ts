import path from 'node:path';
import * as electron from 'electron';
// Bundled as CommonJS (build.ts), where this named import of the CommonJS package resolves; no ESM run of this file.
import { machineId } from 'node-machine-id';
import { createAgent, type Agent } from '../core/agent.js';
import { AgentService } from '../core/agent-service.js';
import { ConfigError, loadAgentConfig, machinePolicyPath } from '../core/config/load.js';
import { OsKeychain } from '../core/keychain.js';
import type { AgentFileLogger } from '../core/logger.js';
import { electronAgentLogger } from './agent-log.js';
import { prepareApp, startShell } from './wiring.js';

/**
 * The Electron entry (dist/electron/main.cjs): the composition root that passes the real Electron module to the
 * wiring, which is tested against a fake. Nothing else in the agent imports Electron at run time.
 */

const KEYCHAIN_SERVICE = 'lifeline-agent';

/**
 * `--lifeline-settings=<file>` and `--lifeline-data=<dir>` point a development run (npm start) at its own user
 * settings and store; an installed agent uses the user's app-data folder.
 */
function argValue(name: string): string | undefined {
  const prefix = `--${name}=`;
  return process.argv.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

async function main(): Promise<void> {
  const { app, dialog } = electron;
  await app.whenReady();
  const userData = argValue('lifeline-data') ?? app.getPath('userData');
  let core: Agent;
  let log: AgentFileLogger | undefined;
  try {
    // Machine policy (IT) over user settings over defaults; an invalid setting stops the agent with a clear message.
    const { config } = loadAgentConfig({
      machinePolicyFile: machinePolicyPath(process.platform, process.env),
      userSettingsFile: argValue('lifeline-settings') ?? path.join(userData, 'settings.json'),
    });
    const { serverUrl, enrollmentSecret } = config;
    if (!serverUrl || !enrollmentSecret)
      throw new ConfigError(
        'configuration',
        'serverUrl',
        'and enrollmentSecret must be set by the installer or the machine policy',
      );
    log = electronAgentLogger(app, userData, config.logLevel);
    core = await createAgent({
      // The merged settings are the agent's configuration as they are; the shell adds where the agent keeps its data.
      config: {
        ...config,
        serverUrl,
        enrollmentSecret,
        dataDir: path.join(userData, 'store'),
        keychainService: KEYCHAIN_SERVICE,
      },
      keychain: new OsKeychain(KEYCHAIN_SERVICE),
      machineId: { hash: () => machineId() },
      log,
    });
  } catch (err) {
    log?.error('[agent] cannot start', { reason: err instanceof Error ? err.name : 'unknown' });
    log?.close();
    dialog.showErrorBox('Lifeline cannot start', err instanceof Error ? err.message : String(err));
    app.exit(1);
    return;
  }
  const appRoot = app.getAppPath();
  startShell(electron, {
    api: new AgentService(core),
    // Packaged (scripts/dist.ts) the renderer is staged as renderer/; a development run uses the source folder.
    rendererDir: path.join(appRoot, app.isPackaged ? 'renderer' : 'src-renderer'),
    preloadPath: path.join(__dirname, 'preload.cjs'),
    trayIconPath: path.join(appRoot, 'assets', 'tray.png'),
    kiosk: core.config.kiosk,
    alwaysOnTop: core.config.alwaysOnTop,
  });
  app.on('before-quit', () => void core.close().finally(() => log?.close()));
}

if (prepareApp(electron)) void main();
