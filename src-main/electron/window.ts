import type { BrowserWindow, BrowserWindowConstructorOptions } from 'electron';
import { APP_ENTRY_URL, lockedDownWebPreferences } from './security.js';

export interface PromptWindowOptions {
  preloadPath: string;
  /** Kiosk and always-on-top when the configuration asks (a deterrent inside the session, docs/design.md §5). */
  kiosk: boolean;
  alwaysOnTop: boolean;
}

export type BrowserWindowClass = new (options: BrowserWindowConstructorOptions) => BrowserWindow;

/** The one window factory (docs/design.md §12.8): every Lifeline window gets exactly these preferences. */
export function promptWindowOptions(options: PromptWindowOptions): BrowserWindowConstructorOptions {
  return {
    width: 520,
    height: 640,
    minWidth: 480,
    minHeight: 520,
    title: 'Lifeline',
    show: false,
    autoHideMenuBar: true,
    kiosk: options.kiosk,
    alwaysOnTop: options.alwaysOnTop,
    webPreferences: lockedDownWebPreferences(options.preloadPath),
  };
}

export function createPromptWindow(BrowserWindowCtor: BrowserWindowClass, options: PromptWindowOptions): BrowserWindow {
  const win = new BrowserWindowCtor(promptWindowOptions(options));
  if (options.alwaysOnTop) win.setAlwaysOnTop(true, 'screen-saver');
  win.once('ready-to-show', () => win.show());
  void win.loadURL(APP_ENTRY_URL);
  return win;
}
