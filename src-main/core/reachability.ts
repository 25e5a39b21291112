import type { Clock } from './ports.js';
import type { ServerClient } from './server-client.js';

/** The server's liveness route: no auth, no database, nothing logged on the server's side but the request. */
const HEALTH_PATH = '/healthz';

export interface ReachabilityTiming {
  /** A status request older than this asks the server again (and waits for that answer, within the budget). */
  maxAgeMs: number;
  /** How often the agent asks on its own while it runs, so the tray and banner do not go stale. */
  intervalMs: number;
}

export const DEFAULT_REACHABILITY_TIMING: ReachabilityTiming = { maxAgeMs: 15_000, intervalMs: 30_000 };

/**
 * Whether the server answers, and when that was last decided. Every exchange with the server (sign-in, enrollment,
 * sync) records what it learnt; between those, a probe of /healthz bounded by the reachability budget keeps the
 * answer fresh: on demand when the status is asked for and it is older than `maxAgeMs`, and in the background.
 *
 * A probe never stands in the way of a sign-in: sign-ins decide by themselves within the budget and do not wait for
 * a probe. An unsigned health answer only says 'reachable'; it never counts as contact (no server time is taken
 * from it).
 */
export class Reachability {
  reachable = false;
  /** The agent's clock when reachability was last decided (null: never). */
  checkedAt: number | null = null;
  /** Monotonic time of that decision: the age of a check must not move when the wall clock is changed. */
  private checkedMono = Number.NEGATIVE_INFINITY;
  /** Counts decisions, so a probe that started before a newer decision does not overwrite it. */
  private decisions = 0;
  private probing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly closing = new AbortController();

  constructor(
    private readonly client: ServerClient,
    private readonly clock: Clock,
    private readonly budgetMs: number,
    private readonly timing: ReachabilityTiming = DEFAULT_REACHABILITY_TIMING,
  ) {}

  /** Records what an exchange with the server just showed. */
  record(reachable: boolean): void {
    this.reachable = reachable;
    this.checkedAt = this.clock.now();
    this.checkedMono = performance.now();
    this.decisions++;
  }

  /** Makes sure the last decision is at most `maxAgeMs` old, asking the server if not (at most the budget). */
  async fresh(maxAgeMs = this.timing.maxAgeMs): Promise<void> {
    if (performance.now() - this.checkedMono <= maxAgeMs) return;
    await this.probe();
  }

  /** Asks the server now, or joins the probe already under way. */
  probe(): Promise<void> {
    this.probing ??= this.probeOnce().finally(() => (this.probing = null));
    return this.probing;
  }

  /** Starts the background checks: one at once, then every `intervalMs`. */
  start(): void {
    this.schedule(0);
  }

  /** Stops the background checks and abandons a probe under way; nothing is left scheduled. */
  async stop(): Promise<void> {
    this.closing.abort();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.probing;
  }

  private async probeOnce(): Promise<void> {
    if (this.closing.signal.aborted) return;
    const before = this.decisions;
    const answer = await this.client.get(HEALTH_PATH, { timeoutMs: this.budgetMs, signal: this.closing.signal });
    // A sign-in or sync that decided meanwhile knows better; an agent closing learns nothing.
    if (this.decisions !== before || this.closing.signal.aborted) return;
    this.record(answer.reachable);
  }

  private schedule(delayMs: number): void {
    if (this.closing.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      // A decision made since the last tick (a status request, a sign-in) is fresh enough: skip this one.
      void this.fresh(this.timing.intervalMs / 2).finally(() => this.schedule(this.timing.intervalMs));
    }, delayMs);
    this.timer.unref(); // the agent's lifetime is the shell's to decide, not this timer's
  }
}
