import { EventEmitter } from 'node:events';
import { mkdtempSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { IPC_CHANNELS, RENDERER_CSP, type AgentApi } from '../../src-shared/ipc.js';
import { prepareApp, startShell, type ElectronApis } from '../../src-main/electron/wiring.js';
import { APP_ENTRY_URL } from '../../src-main/electron/security.js';
import { rendererResponse } from '../../src-main/electron/protocol.js';
import { buildRendererApi } from '../../src-main/preload/api.js';
import { trayTemplate } from '../../src-main/electron/tray.js';
import { electronAgentLogger } from '../../src-main/electron/agent-log.js';

/**
 * Electron's binary is not installed where tests run (docs/design.md §12.9), so the shell's wiring is driven through a small
 * fake of Electron's APIs: these tests check what the shell asks of Electron, not Electron itself.
 */

type Handler = (event: unknown, payload: unknown) => Promise<unknown>;

class FakeWebContents extends EventEmitter {
  windowOpenHandler?: (details: unknown) => { action: string };
  setWindowOpenHandler(h: (details: unknown) => { action: string }): void {
    this.windowOpenHandler = h;
  }
}

class FakeBrowserWindow extends EventEmitter {
  static created: FakeBrowserWindow[] = [];
  webContents = new FakeWebContents();
  loaded?: string;
  alwaysOnTop?: [boolean, string];
  constructor(readonly options: Record<string, unknown>) {
    super();
    FakeBrowserWindow.created.push(this);
  }
  loadURL(url: string): Promise<void> {
    this.loaded = url;
    return Promise.resolve();
  }
  setAlwaysOnTop(flag: boolean, level: string): void {
    this.alwaysOnTop = [flag, level];
  }
  isDestroyed(): boolean {
    return false;
  }
  isMinimized(): boolean {
    return false;
  }
  show(): void {}
  focus(): void {}
  restore(): void {}
}

function fakeElectron(options: { singleInstance?: boolean } = {}) {
  const handlers = new Map<string, Handler>();
  const appEvents = new EventEmitter();
  const calls: string[] = [];
  let permissionRequest: ((wc: unknown, permission: string, cb: (granted: boolean) => void) => void) | undefined;
  let permissionCheck: ((...args: unknown[]) => boolean) | undefined;
  let beforeRequest: ((details: { url: string }, cb: (r: { cancel: boolean }) => void) => void) | undefined;
  let protocolHandler: ((request: Request) => Promise<Response>) | undefined;
  const privileged: unknown[] = [];
  FakeBrowserWindow.created = [];
  const fake = {
    app: {
      enableSandbox: () => void calls.push('enableSandbox'),
      requestSingleInstanceLock: () => options.singleInstance ?? true,
      quit: () => void calls.push('quit'),
      on: (event: string, listener: (...args: unknown[]) => void) => appEvents.on(event, listener),
      whenReady: () => Promise.resolve(),
    },
    ipcMain: { handle: (channel: string, handler: Handler) => void handlers.set(channel, handler) },
    BrowserWindow: FakeBrowserWindow,
    protocol: {
      registerSchemesAsPrivileged: (schemes: unknown[]) => void privileged.push(...schemes),
      handle: (_scheme: string, handler: (request: Request) => Promise<Response>) => void (protocolHandler = handler),
    },
    session: {
      defaultSession: {
        setPermissionRequestHandler: (h: typeof permissionRequest) => void (permissionRequest = h),
        setPermissionCheckHandler: (h: typeof permissionCheck) => void (permissionCheck = h),
        webRequest: { onBeforeRequest: (h: typeof beforeRequest) => void (beforeRequest = h) },
      },
    },
    Tray: class {
      setToolTip(): void {}
      setContextMenu(): void {}
    },
    Menu: { buildFromTemplate: (t: unknown) => t },
  };
  return {
    electron: fake as unknown as ElectronApis,
    handlers,
    appEvents,
    calls,
    privileged,
    permissionRequest: () => permissionRequest!,
    permissionCheck: () => permissionCheck!,
    beforeRequest: () => beforeRequest!,
    protocolHandler: () => protocolHandler!,
  };
}

/** Records which core methods were reached; every answer is a valid contract response. */
function recordingCore(): { api: AgentApi; reached: string[] } {
  const reached: string[] = [];
  const api: AgentApi = {
    config: async () => (
      reached.push('config'),
      { ok: true, osUsername: 'alice', serverUrl: 'https://x', kiosk: false, version: '0' }
    ),
    status: async () => (reached.push('status'), { ok: false, error: 'internal', message: 'n/a' }),
    login: async (r) => (reached.push('login'), { ok: true, mode: 'online', method: 'token', username: r.username }),
    emergencyRequest: async () => (
      reached.push('emergencyRequest'),
      { ok: false, error: 'offline_unavailable', message: 'n/a' }
    ),
    emergencySubmit: async () => (
      reached.push('emergencySubmit'),
      { ok: false, error: 'invalid_code', message: 'n/a' }
    ),
    syncNow: async () => (
      reached.push('syncNow'),
      { ok: true, uploaded: 0, pendingEvents: 0, resetsApplied: 0, syncedAt: 1 }
    ),
    resetStore: async () => (reached.push('resetStore'), { ok: true, setAsideTo: null }),
  };
  return { api, reached };
}

function frame(url: string, parent: unknown = null) {
  return { senderFrame: { url, parent }, sender: {} };
}

function rendererDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'lifeline-renderer-'));
  mkdirSync(path.join(dir, 'dist'));
  writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(path.join(dir, 'app.css'), 'body{}');
  writeFileSync(path.join(dir, 'dist', 'renderer.js'), 'void 0;');
  return dir;
}

function start(options: { kiosk?: boolean } = {}) {
  const f = fakeElectron();
  const core = recordingCore();
  expect(prepareApp(f.electron)).toBe(true);
  startShell(f.electron, {
    api: core.api,
    rendererDir: rendererDir(),
    preloadPath: '/opt/lifeline/preload.cjs',
    trayIconPath: '/opt/lifeline/tray.png',
    kiosk: options.kiosk ?? false,
    alwaysOnTop: options.kiosk ?? false,
  });
  return { ...f, core };
}

describe('Electron shell wiring (Electron APIs faked)', () => {
  it('sandboxes every renderer, takes the single-instance lock and registers app:// as a secure standard scheme', () => {
    const f = start();
    expect(f.calls).toContain('enableSandbox');
    expect(f.privileged).toEqual([
      expect.objectContaining({ scheme: 'app', privileges: expect.objectContaining({ standard: true, secure: true }) }),
    ]);
  });

  it('quits when another instance holds the lock', () => {
    const f = fakeElectron({ singleInstance: false });
    expect(prepareApp(f.electron)).toBe(false);
    expect(f.calls).toEqual(['enableSandbox', 'quit']);
  });

  it('registers exactly one handler per contract channel', () => {
    const f = start();
    expect([...f.handlers.keys()].sort()).toEqual([...IPC_CHANNELS].sort());
  });

  it('answers the top frame of app://lifeline and refuses foreign origins, sub-frames and vanished frames', async () => {
    const f = start();
    const login = f.handlers.get('agent:login')!;
    const payload = { username: 'alice', pin: '123456', code: '000000' };
    expect(await login(frame('app://lifeline/index.html'), payload)).toMatchObject({ ok: true, username: 'alice' });
    for (const event of [
      frame('https://evil.example/index.html'),
      frame('app://evil/index.html'),
      frame('file:///opt/lifeline/index.html'),
      frame('app://lifeline/index.html', { url: 'app://lifeline/index.html' }),
      frame('not a url'),
      { senderFrame: null, sender: {} },
    ]) {
      expect(await login(event, payload)).toMatchObject({ ok: false, error: 'forbidden' });
    }
    expect(f.core.reached.filter((m) => m === 'login')).toHaveLength(1); // only the trusted frame's login got through
  });

  it('refuses junk payloads on every channel before the core sees them', async () => {
    const f = start();
    f.core.reached.length = 0;
    for (const channel of IPC_CHANNELS) {
      const handler = f.handlers.get(channel)!;
      for (const junk of [null, 42, 'x', [], { extra: true }, { username: 1, pin: [], code: {} }]) {
        expect(await handler(frame('app://lifeline/index.html'), junk)).toMatchObject({
          ok: false,
          error: 'validation_failed',
        });
      }
    }
    expect(f.core.reached).toEqual([]);
  });

  it('creates the window with the locked-down web preferences and loads it from app://', () => {
    start();
    const win = FakeBrowserWindow.created[0]!;
    expect(win.options.webPreferences).toEqual({
      preload: '/opt/lifeline/preload.cjs',
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
    });
    expect(win.loaded).toBe(APP_ENTRY_URL);
    expect(win.options.kiosk).toBe(false);
  });

  it('goes kiosk and always-on-top when the configuration asks', () => {
    start({ kiosk: true });
    const win = FakeBrowserWindow.created[0]!;
    expect(win.options).toMatchObject({ kiosk: true, alwaysOnTop: true });
    expect(win.alwaysOnTop).toEqual([true, 'screen-saver']);
  });

  it('denies navigation, redirects, webviews and window.open in every web contents', () => {
    const f = start();
    const contents = new FakeWebContents();
    f.appEvents.emit('web-contents-created', {}, contents);
    for (const event of ['will-navigate', 'will-redirect', 'will-attach-webview']) {
      let prevented = false;
      contents.emit(event, { preventDefault: () => (prevented = true) }, 'https://evil.example/');
      expect(prevented, event).toBe(true);
    }
    expect(contents.windowOpenHandler!({ url: 'https://evil.example/' })).toEqual({ action: 'deny' });
  });

  it('denies every permission request and check, and every request that is not app://lifeline', () => {
    const f = start();
    let granted: boolean | undefined;
    f.permissionRequest()({}, 'media', (g) => (granted = g));
    expect(granted).toBe(false);
    expect(f.permissionCheck()({}, 'notifications', 'app://lifeline', {})).toBe(false);
    const verdict = (url: string) => {
      let cancel: boolean | undefined;
      f.beforeRequest()({ url }, (r) => (cancel = r.cancel));
      return cancel;
    };
    expect(verdict('app://lifeline/renderer.js')).toBe(false);
    expect(verdict('https://evil.example/x.js')).toBe(true);
    expect(verdict('file:///etc/passwd')).toBe(true);
  });

  it('serves only the listed renderer assets from app://, with the CSP header', async () => {
    const f = start();
    const page = await f.protocolHandler()(new Request('app://lifeline/index.html'));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBe(RENDERER_CSP);
    for (const url of [
      'app://lifeline/../package.json',
      'app://lifeline/dist/../../etc/passwd',
      'app://other/index.html',
      'app://lifeline/preload.cjs',
    ]) {
      expect((await rendererResponse(rendererDir(), url)).status, url).toBe(404);
    }
  });
});

describe('tray (Electron APIs faked)', () => {
  it('shows whether the server is reachable and how many events wait, and offers show, sync and quit', async () => {
    const core = recordingCore();
    core.api.status = async () => ({
      ok: true,
      now: 1,
      server: { url: 'https://x', reachable: false, checkedAt: 1, lastContactAt: null },
      device: { id: 'D', state: 'approved' },
      offline: { available: true, reason: null, message: null },
      lastSyncAt: null,
      pendingEvents: 3,
      sync: { running: false, done: 0, total: 0, lastError: null },
      users: [],
    });
    const shown: string[] = [];
    const { tooltip, template } = await trayTemplate(
      core.api,
      { showPrompt: () => shown.push('show'), quit: () => shown.push('quit') },
      () => undefined,
    );
    expect(tooltip).toContain('not reachable');
    expect(template.map((i) => i.label ?? i.type)).toEqual([
      'Server: not reachable (offline mode)',
      'Events waiting to sync: 3',
      'separator',
      'Show sign-in',
      'Sync now',
      'separator',
      'Quit Lifeline',
    ]);
    template.find((i) => i.label === 'Show sign-in')!.click!({} as never, undefined, {} as never);
    template.find((i) => i.label === 'Quit Lifeline')!.click!({} as never, undefined, {} as never);
    expect(shown).toEqual(['show', 'quit']);
  });
});

describe('preload API', () => {
  it('offers one function per channel, each a single invoke on its own channel, and is frozen', async () => {
    const invoked: Array<[string, unknown]> = [];
    const api = buildRendererApi(async (channel, request) => (invoked.push([channel, request]), { ok: true }));
    expect(Object.keys(api).sort()).toEqual([
      'config',
      'emergencyRequest',
      'emergencySubmit',
      'login',
      'resetStore',
      'status',
      'syncNow',
    ]);
    expect(Object.isFrozen(api)).toBe(true);
    await api.login({ username: 'a', pin: 'p', code: 'c' });
    await api.status({});
    await api.resetStore({});
    expect(invoked).toEqual([
      ['agent:login', { username: 'a', pin: 'p', code: 'c' }],
      ['agent:status', {}],
      ['agent:reset-store', {}],
    ]);
  });
});

describe('agent log (Electron app faked)', () => {
  it('writes logs/agent.log in the app-data folder at the configured level, and the console only when not packaged', () => {
    for (const isPackaged of [true, false]) {
      const userData = mkdtempSync(path.join(tmpdir(), 'lifeline-electron-log-'));
      const written: string[] = [];
      const stderrWrite = process.stderr.write;
      process.stderr.write = ((chunk: string) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
      try {
        const log = electronAgentLogger({ isPackaged }, userData, 'warn');
        log.info('[device] enrolled', { status: 'pending' });
        log.warn('[store] a warning', { reason: 'store_damaged' });
        log.close();
      } finally {
        process.stderr.write = stderrWrite;
      }
      const lines = readFileSync(path.join(userData, 'logs', 'agent.log'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines).toEqual([
        expect.objectContaining({ level: 40, msg: '[store] a warning', reason: 'store_damaged' }),
      ]);
      expect(
        written.filter((w) => w.includes('[store] a warning')),
        `packaged: ${isPackaged}`,
      ).toHaveLength(isPackaged ? 0 : 1);
    }
  });
});
