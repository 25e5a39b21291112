import {
  BROWSER_SESSION_HEADER,
  IPC_CONTRACT,
  ipcFailure,
  type IpcChannel,
  type IpcResponse,
  type RendererApi,
} from '../src-shared/ipc.js';

/**
 * How the renderer reaches the core. Under Electron the preload has put the contract on `window.lifeline`; in the
 * browser shell the same contract is spoken over HTTP, after trading the one-time launch token for a session id.
 */

declare global {
  interface Window {
    lifeline?: RendererApi;
  }
}

const LAUNCH_PARAM = 'launch';
/** Where the session id is kept: sessionStorage belongs to this origin (port included) and this tab only. */
const SESSION_KEY = 'lifeline-agent-session';

/**
 * Takes the launch token out of the URL fragment at once (so it is in neither the address bar nor the history),
 * then exchanges it for a session id. A reload without a token keeps the session id the tab already has.
 */
async function openBrowserSession(): Promise<void> {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get(LAUNCH_PARAM);
  if (token === null) return;
  history.replaceState(null, '', location.pathname + location.search);
  const response = await fetch('/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    credentials: 'omit',
    body: JSON.stringify({ token }),
  });
  const answer = (await response.json().catch(() => null)) as { session?: unknown } | null;
  if (typeof answer?.session === 'string') sessionStorage.setItem(SESSION_KEY, answer.session);
}

async function callOverHttp<C extends IpcChannel>(channel: C, request: unknown): Promise<IpcResponse<C>> {
  let body: unknown;
  try {
    const response = await fetch(`/ipc/${channel}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [BROWSER_SESSION_HEADER]: sessionStorage.getItem(SESSION_KEY) ?? '',
      },
      credentials: 'omit',
      body: JSON.stringify(request ?? {}),
    });
    body = await response.json();
  } catch {
    return ipcFailure('internal', 'The agent is not answering. Restart it and try again.') as IpcResponse<C>;
  }
  const parsed = IPC_CONTRACT[channel].response.safeParse(body);
  return (
    parsed.success ? parsed.data : ipcFailure('internal', 'The agent gave an answer outside its contract.')
  ) as IpcResponse<C>;
}

function httpApi(): RendererApi {
  const api: Record<string, (request: unknown) => Promise<unknown>> = {};
  for (const [channel, entry] of Object.entries(IPC_CONTRACT)) {
    api[entry.method] = (request) => callOverHttp(channel as IpcChannel, request);
  }
  return api as unknown as RendererApi;
}

export async function connect(): Promise<RendererApi> {
  if (window.lifeline) return window.lifeline;
  await openBrowserSession();
  return httpApi();
}
