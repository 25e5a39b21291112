/**
 * The console's one way to talk to the server. The session is an httpOnly cookie the page cannot read; the CSRF token
 * lives only in this module's memory (never in storage), and goes with every change as `x-csrf-token`.
 * When the server answers `step_up_required`, the step-up dialog asks for a fresh TOTP and the action is retried once.
 */
export const PATHS = {
  consoleSession: '/api/v1/admin/console-sessions',
  stepUp: '/api/v1/admin/sessions/step-up',
  me: '/api/v1/admin/sessions/current',
} as const;

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: Record<string, unknown>,
  ) {
    super(message);
  }
}

interface Hooks {
  /** Shows the step-up dialog; resolves true once the session is high-assurance again. */
  stepUp(): Promise<boolean>;
  /** The session is gone (expired, idle, revoked): back to sign-in. */
  signedOut(reason: string): void;
  /** Every answered request counts as activity for the idle timer shown in the header. */
  activity(): void;
}

let csrfToken: string | null = null;
let hooks: Hooks | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}
export function hasCsrfToken(): boolean {
  return csrfToken !== null;
}
export function installHooks(h: Hooks): void {
  hooks = h;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

async function send(method: Method, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  return fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
}

async function parse(res: Response): Promise<Record<string, unknown>> {
  const text = await res.text();
  if (!text) return {};
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : { value };
  } catch {
    return { error: 'bad_response', message: 'The server sent something that is not JSON.' };
  }
}

export async function api<T = Record<string, unknown>>(
  method: Method,
  path: string,
  body?: unknown,
  options: { noSignOut?: boolean } = {},
): Promise<T> {
  let res = await send(method, path, body);
  let data = await parse(res);
  if (res.status === 403 && data.error === 'step_up_required' && hooks) {
    if (!(await hooks.stepUp()))
      throw new ApiFailure(
        403,
        'step_up_cancelled',
        'The action was cancelled: it needs a fresh code from your authenticator.',
        data,
      );
    res = await send(method, path, body);
    data = await parse(res);
  }
  if (res.ok) {
    hooks?.activity();
    return data as T;
  }
  const code = typeof data.error === 'string' ? data.error : 'http_' + res.status;
  const message = typeof data.message === 'string' ? data.message : `The server answered ${res.status}.`;
  if (res.status === 401 && !options.noSignOut && hooks) hooks.signedOut('Your session has ended. Sign in again.');
  throw new ApiFailure(res.status, code, message, data);
}

/** The CSV export is a download, not JSON: fetched with the cookie and handed to the browser as a file. */
export async function download(path: string, filename: string): Promise<void> {
  const res = await fetch(path, { credentials: 'same-origin', cache: 'no-store' });
  if (!res.ok) {
    const data = await parse(res);
    throw new ApiFailure(
      res.status,
      String(data.error ?? 'http_' + res.status),
      String(data.message ?? 'Export failed.'),
      data,
    );
  }
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export const enc = encodeURIComponent;
