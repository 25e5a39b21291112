import type { AgentLogger, HttpFetch } from './ports.js';

export type ServerAnswer =
  | { reachable: false; reason: 'timeout' | 'network' | 'server_error' }
  | { reachable: true; status: number; body: unknown; /** The server's Date header (1 s resolution), if any. */ date: number | null };

/**
 * HTTP to the Lifeline server with a hard time budget. AbortSignal.timeout covers connecting, sending and reading
 * the whole answer, so a server that accepts the connection and never answers (or a firewall that drops packets)
 * still yields a decision within the budget, and the prompt falls back to offline mode without stalling.
 */
export class ServerClient {
  constructor(
    private readonly baseUrl: string,
    private readonly fetchFn: HttpFetch,
    private readonly log: AgentLogger,
  ) {}

  async post(path: string, body: unknown, options: { headers?: Record<string, string>; timeoutMs: number }): Promise<ServerAnswer> {
    const url = new URL(path, this.baseUrl).toString();
    const started = Date.now();
    try {
      const res = await this.fetchFn(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...options.headers },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      const text = await res.text();
      // A failing server or proxy (5xx) cannot decide anything: the agent treats it like an unreachable one.
      if (res.status >= 500) {
        this.log.warn('[http] server error', { path, status: res.status });
        return { reachable: false, reason: 'server_error' };
      }
      let parsed: unknown = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = null;
      }
      const date = Date.parse(res.headers.get('date') ?? '');
      return { reachable: true, status: res.status, body: parsed, date: Number.isNaN(date) ? null : date };
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      this.log.info('[http] server unreachable', { path, reason: timedOut ? 'timeout' : 'network', ms: Date.now() - started });
      return { reachable: false, reason: timedOut ? 'timeout' : 'network' };
    }
  }
}
