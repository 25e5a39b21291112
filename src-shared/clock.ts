/**
 * Time as a port, for the server and the agent alike: tests move it (lockouts lifting after 15 minutes, codes
 * expiring, a workstation's clock set back or forward) without sleeping.
 */
export interface Clock {
  now(): number; // epoch milliseconds
  /**
   * Milliseconds on a clock that setting the wall clock does not move (any origin; only differences count). The
   * agent measures its offline locks on it, so a clock set forward lifts none (docs/agent.md). Absent: performance.now().
   */
  monotonic?(): number;
}

export const systemClock: Clock = { now: () => Date.now(), monotonic: () => performance.now() };

export function monotonicNow(clock: Clock): number {
  return clock.monotonic ? clock.monotonic() : performance.now();
}

/** `advance` is time passing (both readings move); `set` is someone changing the wall clock (the monotonic one stays). */
export class ManualClock implements Clock {
  private mono = 0;
  constructor(private t: number = Date.now()) {}
  now(): number {
    return this.t;
  }
  monotonic(): number {
    return this.mono;
  }
  set(t: number): void {
    this.t = t;
  }
  advance(ms: number): void {
    this.t += ms;
    this.mono += ms;
  }
}
