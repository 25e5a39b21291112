import type { IpcMainInvokeEvent, Session, WebContents, WebPreferences } from 'electron';

/**
 * Electron's security checklist in one place (docs/design.md §12.8): the window preferences, what a web contents may do, what
 * a session may grant, and who may speak on IPC. Everything the renderer loads comes from app://lifeline.
 */

export const APP_SCHEME = 'app';
export const APP_HOST = 'lifeline';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_ENTRY_URL = `${APP_ORIGIN}/index.html`;

/** The only web preferences a Lifeline window is ever created with. */
export function lockedDownWebPreferences(preloadPath: string): WebPreferences {
  return {
    preload: preloadPath,
    sandbox: true,
    contextIsolation: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    experimentalFeatures: false,
    navigateOnDragDrop: false,
    spellcheck: false,
    safeDialogs: true,
    devTools: false,
  };
}

/** True only for the top frame of a page served from app://lifeline (VS Code's ValidatedIpcMain, docs/design.md §12.4). */
export function isTrustedSender(event: Pick<IpcMainInvokeEvent, 'senderFrame'>): boolean {
  const frame = event.senderFrame;
  // Null when the frame navigated away or was destroyed before the message was handled.
  if (!frame || frame.parent !== null) return false;
  let url: URL;
  try {
    url = new URL(frame.url);
  } catch {
    return false;
  }
  return url.protocol === `${APP_SCHEME}:` && url.host === APP_HOST;
}

/**
 * Applied to every web contents the app creates (from `web-contents-created`), so no window can escape it:
 * no navigation anywhere, no new windows, no <webview>.
 */
export function hardenWebContents(contents: Pick<WebContents, 'on' | 'setWindowOpenHandler'>): void {
  contents.on('will-navigate', (event) => event.preventDefault());
  contents.on('will-redirect', (event) => event.preventDefault());
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}

/** No permission (camera, notifications, geolocation…) is ever granted, and nothing but app:// is fetched. */
export function hardenSession(
  session: Pick<Session, 'setPermissionRequestHandler' | 'setPermissionCheckHandler' | 'webRequest'>,
): void {
  session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
  session.webRequest.onBeforeRequest((details, callback) => {
    const allowed = details.url.startsWith(`${APP_ORIGIN}/`) || details.url.startsWith('data:');
    callback({ cancel: !allowed });
  });
}
