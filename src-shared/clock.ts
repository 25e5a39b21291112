/**
 * Time as a port, for the server and the agent alike: tests move it (lockouts lifting after 15 minutes, codes
 * expiring, a workstation's clock set back or forward) without sleeping.
 */
export interface Clock {
  now(): number; // epoch milliseconds
}

export const systemClock: Clock = { now: () => Date.now() };

export class ManualClock implements Clock {
  constructor(private t: number = Date.now()) {}
  now(): number {
    return this.t;
  }
  set(t: number): void {
    this.t = t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}
