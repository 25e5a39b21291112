import type { Menu, MenuItemConstructorOptions, NativeImage, Tray } from 'electron';
import type { AgentApi } from '../../src-shared/ipc.js';

/** The tray icon: server state and events waiting at a glance, and the two actions people need. */

export interface TrayApis {
  Tray: new (image: NativeImage | string) => Tray;
  Menu: { buildFromTemplate(template: MenuItemConstructorOptions[]): Menu };
}

export interface TrayActions {
  showPrompt(): void;
  quit(): void;
}

const REFRESH_MS = 30_000;

export async function trayTemplate(
  api: AgentApi,
  actions: TrayActions,
  refresh: () => void,
): Promise<{ tooltip: string; template: MenuItemConstructorOptions[] }> {
  const status = await api.status({});
  const lines = status.ok
    ? [
        status.server.reachable ? 'Server: reachable' : 'Server: not reachable (offline mode)',
        `Events waiting to sync: ${status.pendingEvents}`,
      ]
    : [`Status unavailable: ${status.message}`];
  return {
    tooltip: `Lifeline: ${lines.join('; ')}`,
    template: [
      ...lines.map((label): MenuItemConstructorOptions => ({ label, enabled: false })),
      { type: 'separator' },
      { label: 'Show sign-in', click: () => actions.showPrompt() },
      { label: 'Sync now', click: () => void api.syncNow({}).finally(refresh) },
      { type: 'separator' },
      { label: 'Quit Lifeline', click: () => actions.quit() },
    ],
  };
}

export function createTray(
  apis: TrayApis,
  iconPath: string,
  api: AgentApi,
  actions: TrayActions,
): { tray: Tray; stop(): void } {
  const tray = new apis.Tray(iconPath);
  const refresh = (): void => {
    void trayTemplate(api, actions, refresh).then(({ tooltip, template }) => {
      tray.setToolTip(tooltip);
      tray.setContextMenu(apis.Menu.buildFromTemplate(template));
    });
  };
  refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  timer.unref();
  return { tray, stop: () => clearInterval(timer) };
}
