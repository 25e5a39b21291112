import type { AgentLogger, HttpFetch } from './ports.js';

/** 'tls': the server's certificate was not trusted (or TLS failed), a configuration problem the user cannot fix. */
export type UnreachableReason = 'timeout' | 'network' | 'tls' | 'server_error';

export type ServerAnswer =
  | { reachable: false; reason: UnreachableReason }
  | {
      reachable: true;
      status: number;
      body: unknown;
      /** The server's Date header (1 s resolution), if any. */ date: number | null;
    };

/**
 * HTTP to the Lifeline server with a hard time budget. AbortSignal.timeout covers connecting, sending and reading
 * the whole answer, so a server that accepts the connection and never answers (or a firewall that drops packets)
 * still yields a decision within the budget, and the prompt falls back to offline mode without stalling.
 */
export class ServerClient {
  /** Why the last request did not reach the server (null after an answer), so the prompt can say why. */
  lastFailure: { reason: UnreachableReason; detail?: string } | null = null;

  constructor(
    private readonly baseUrl: string,
    private readonly fetchFn: HttpFetch,
    private readonly log: AgentLogger,
  ) {}

  post(
    path: string,
    body: unknown,
    options: { headers?: Record<string, string>; timeoutMs: number },
  ): Promise<ServerAnswer> {
    return this.send('POST', path, body, options);
  }

  /** A GET within the budget; `signal` lets the caller give up earlier (the agent closing). */
  get(path: string, options: { timeoutMs: number; signal?: AbortSignal }): Promise<ServerAnswer> {
    return this.send('GET', path, undefined, options);
  }

  private async send(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    options: { headers?: Record<string, string>; timeoutMs: number; signal?: AbortSignal },
  ): Promise<ServerAnswer> {
    const url = new URL(path, this.baseUrl).toString();
    const started = Date.now();
    const timeout = AbortSignal.timeout(options.timeoutMs);
    try {
      const res = await this.fetchFn(url, {
        method,
        headers: {
          ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
          accept: 'application/json',
          ...options.headers,
        },
        ...(method === 'POST' ? { body: JSON.stringify(body) } : {}),
        signal: options.signal ? AbortSignal.any([timeout, options.signal]) : timeout,
      });
      const text = await res.text();
      // A failing server or proxy (5xx) cannot decide anything: the agent treats it like an unreachable one.
      if (res.status >= 500) {
        this.log.warn('[http] server error', { path, status: res.status });
        this.lastFailure = { reason: 'server_error', detail: `HTTP ${res.status}` };
        return { reachable: false, reason: 'server_error' };
      }
      let parsed: unknown = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = null;
      }
      const date = Date.parse(res.headers.get('date') ?? '');
      this.lastFailure = null;
      return { reachable: true, status: res.status, body: parsed, date: Number.isNaN(date) ? null : date };
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      const tls = timedOut ? null : tlsProblem(err);
      const reason: UnreachableReason = timedOut ? 'timeout' : tls ? 'tls' : 'network';
      this.lastFailure = { reason, ...(tls ? { detail: tls } : {}) };
      if (tls)
        this.log.warn("[http] the server's TLS certificate is not trusted (check serverCaFile)", { path, code: tls });
      else this.log.info('[http] server unreachable', { path, reason, ms: Date.now() - started });
      return { reachable: false, reason };
    }
  }
}

/**
 * The OpenSSL/Node code of a TLS failure (an untrusted or mismatched certificate, a plain-HTTP answer to HTTPS), if
 * that is what went wrong. Global fetch wraps it in `cause`; node:https rejects with it directly.
 */
function tlsProblem(err: unknown): string | null {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 3; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (
      typeof code === 'string' &&
      /^ERR_(TLS|SSL)_|CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|INVALID_CA|HOSTNAME_MISMATCH/.test(code)
    )
      return code;
  }
  return null;
}
