import type { Clock } from '../clock.js';

/**
 * For clients allowed to omit Message-Authenticator, nothing proves a request carries the shared secret: with a
 * wrong secret (or a forger without one) the PAP password decrypts to noise. Noise is never verified, so it is never
 * counted against a user; a burst of it is reported, and while the burst lasts (until `windowMs` passes without
 * noise) every request of that client without Message-Authenticator is refused unverified as well.
 */
export class NoiseBurstDetector {
  private readonly clients = new Map<number, { recent: number[]; quarantinedUntil: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly threshold = 5,
    private readonly windowMs = 60_000,
  ) {}

  /** Records one undecodable password; true when it starts a burst (the caller reports it once). */
  recordNoise(clientId: number): boolean {
    const now = this.clock.now();
    const state = this.clients.get(clientId) ?? { recent: [], quarantinedUntil: -Infinity };
    this.clients.set(clientId, state);
    const wasQuarantined = state.quarantinedUntil > now;
    state.recent = [...state.recent.filter((t) => t > now - this.windowMs), now].slice(-this.threshold);
    if (wasQuarantined || state.recent.length >= this.threshold) state.quarantinedUntil = now + this.windowMs;
    return !wasQuarantined && state.recent.length >= this.threshold;
  }

  isQuarantined(clientId: number): boolean {
    return (this.clients.get(clientId)?.quarantinedUntil ?? -Infinity) > this.clock.now();
  }
}
