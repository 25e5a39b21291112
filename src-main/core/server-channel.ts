import type { AgentConfig } from './agent-config.js';
import { signedHeaders, type DeviceKeys } from './device.js';
import type { AgentLogger, Clock, HttpFetch } from './ports.js';
import { Reachability, type ReachabilityTiming } from './reachability.js';
import { ServerClient, type ServerAnswer } from './server-client.js';

/**
 * What a device-signed POST came to. `revoked` is the server's 403 `device_revoked`, kept apart because every caller
 * must hand it to the device wipe (device-wipe.ts) rather than treat it as one more refusal.
 */
export type SignedOutcome =
  | { kind: 'unreachable' }
  | { kind: 'revoked'; body: unknown }
  | { kind: 'answered'; status: number; body: unknown; nonce: string };

/**
 * The agent's line to the server: the HTTP client, whether the server answers (what the status reports), and the
 * server's clock as the agent last saw it, which device-signed requests are timestamped with.
 */
export class ServerChannel {
  readonly client: ServerClient;
  /** Whether the server answers, decided within the budget; what the status reports. */
  readonly reachability: Reachability;
  /** Difference between the server's clock and ours at the last answer, for signing request timestamps. */
  private serverOffsetMs = 0;
  /** The server's time at the last answer and the monotonic clock then (wall-clock changes do not move it). */
  private contact: { serverTime: number; mono: number } | null = null;

  constructor(
    config: AgentConfig,
    fetchFn: HttpFetch,
    private readonly clock: Clock,
    private readonly log: AgentLogger,
    timing: ReachabilityTiming,
    /** Told of every signed answer with the server's time and ours, so the store can keep its clock floor. */
    private readonly onContact: (serverTime: number, now: number) => Promise<void>,
  ) {
    this.client = new ServerClient(config.serverUrl, fetchFn, log);
    this.reachability = new Reachability(this.client, clock, config.reachabilityBudgetMs, timing);
  }

  /** The server's notion of now, for request timestamps (an agent clock that is off must not void its signatures). */
  serverNow(): number {
    return this.clock.now() + this.serverOffsetMs;
  }

  /** Records a successful exchange with the server: contact time, server time, and a trusted clock floor. */
  async noteContact(serverTime: number): Promise<void> {
    const now = this.clock.now();
    this.serverOffsetMs = serverTime - now;
    this.contact = { serverTime, mono: performance.now() };
    this.reachability.record(true);
    await this.onContact(serverTime, now);
  }

  noteUnreachable(): void {
    this.reachability.record(false);
  }

  /**
   * A device-signed POST. The signature covers a timestamp the server accepts within ±5 minutes of its own clock,
   * and the workstation clock may be wrong (set forward or back: part of the threat model). So the agent signs with
   * its best guess of the server's time and, if the server refuses the signature, re-signs (fresh nonce) with the
   * next guess that differs: wall clock plus the offset seen at the last answer; the last answer's server time plus
   * the time elapsed on the monotonic clock (right even if the wall clock was changed since); the Date header of
   * the refusal (right after a sleep, which the monotonic clock may not count).
   */
  async signedPost(
    keys: DeviceKeys,
    deviceId: string,
    path: string,
    body: unknown,
    timeoutMs: number,
  ): Promise<SignedOutcome> {
    const started = Date.now();
    let refusalDate: number | null = null;
    const estimates: (() => number | null)[] = [
      () => this.serverNow(),
      () => (this.contact ? this.contact.serverTime + (performance.now() - this.contact.mono) : null),
      () => refusalDate,
    ];
    const tried: number[] = [];
    let last: { answer: ServerAnswer; nonce: string } | undefined;
    for (const estimate of estimates) {
      const at = estimate();
      if (at === null || tried.some((t) => Math.abs(t - at) < 60_000)) continue;
      tried.push(at);
      const headers = signedHeaders(keys, deviceId, path, body, Math.round(at));
      const answer = await this.client.post(path, body, {
        headers,
        timeoutMs: Math.max(100, timeoutMs - (Date.now() - started)),
      });
      last = { answer, nonce: headers['x-lifeline-nonce']! };
      const refused = answer.reachable && answer.status === 401 && errorOf(answer.body) === 'bad_signature';
      if (!refused) break;
      refusalDate = answer.date;
      this.log.warn('[http] the server refused the request time; signing again with another estimate of its clock');
    }
    const { answer, nonce } = last!; // the first estimate always exists
    if (!answer.reachable) {
      this.noteUnreachable();
      return { kind: 'unreachable' };
    }
    if (answer.status === 403 && errorOf(answer.body) === 'device_revoked')
      return { kind: 'revoked', body: answer.body };
    return { kind: 'answered', status: answer.status, body: answer.body, nonce };
  }
}

function errorOf(body: unknown): unknown {
  return (body as { error?: unknown } | null)?.error;
}
