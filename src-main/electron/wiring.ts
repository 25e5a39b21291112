import type { App, BrowserWindow, IpcMain, Protocol, Session } from 'electron';
import type { AgentApi } from '../../src-shared/ipc.js';
import { registerIpcHandlers } from './ipc-handlers.js';
import { registerAppScheme, serveRenderer } from './protocol.js';
import { hardenSession, hardenWebContents } from './security.js';
import { createTray, type TrayApis } from './tray.js';
import { createPromptWindow, type BrowserWindowClass } from './window.js';

/**
 * The Electron shell's wiring, taking Electron's APIs as parameters: main.ts passes the real module, the unit test
 * a small fake (Electron's binary is not installed where tests run, docs/design.md §12.9).
 */

export interface ElectronApis extends TrayApis {
  app: Pick<App, 'enableSandbox' | 'requestSingleInstanceLock' | 'quit' | 'on' | 'whenReady'>;
  ipcMain: Pick<IpcMain, 'handle'>;
  BrowserWindow: BrowserWindowClass;
  protocol: Pick<Protocol, 'registerSchemesAsPrivileged' | 'handle'>;
  session: {
    defaultSession: Pick<Session, 'setPermissionRequestHandler' | 'setPermissionCheckHandler' | 'webRequest'>;
  };
}

export interface ShellOptions {
  api: AgentApi;
  rendererDir: string;
  preloadPath: string;
  trayIconPath: string;
  kiosk: boolean;
  alwaysOnTop: boolean;
}

/**
 * Before `ready`: sandbox every renderer (Element explains: it also covers windows a bug might open), keep one
 * instance, and register app:// as a privileged scheme. Returns false when another instance owns the lock.
 */
export function prepareApp(electron: Pick<ElectronApis, 'app' | 'protocol'>): boolean {
  electron.app.enableSandbox();
  if (!electron.app.requestSingleInstanceLock()) {
    electron.app.quit();
    return false;
  }
  registerAppScheme(electron.protocol);
  electron.app.on('web-contents-created', (_event, contents) => hardenWebContents(contents));
  return true;
}

/** After `ready`: lock the session, serve the renderer, open the channels, show the prompt and the tray. */
export function startShell(electron: ElectronApis, options: ShellOptions): { window: () => BrowserWindow } {
  hardenSession(electron.session.defaultSession);
  serveRenderer(electron.protocol, options.rendererDir);
  registerIpcHandlers(electron.ipcMain, options.api);

  let win: BrowserWindow | undefined;
  const showPrompt = (): void => {
    if (!win || win.isDestroyed()) {
      win = createPromptWindow(electron.BrowserWindow, options);
      return;
    }
    if (win.isMinimized()) win.restore();
    win.show();
    win.focus();
  };
  // A second launch (e.g. the user clicking the shortcut again) brings the existing prompt forward.
  electron.app.on('second-instance', showPrompt);
  // The agent lives in the tray; closing the prompt does not stop it.
  electron.app.on('window-all-closed', () => undefined);
  createTray(electron, options.trayIconPath, options.api, { showPrompt, quit: () => electron.app.quit() });
  showPrompt();
  return { window: () => win! };
}
