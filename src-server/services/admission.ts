import { z } from 'zod';
import type { Logger } from '../logger.js';

/**
 * Admission control for everything that verifies a code on this instance: the HTTP routes (POST /api/v1/verify,
 * POST /api/v1/devices/login, through http/admission.ts) and the RADIUS front end (radius/server.ts) take places in
 * ONE gate, since they spend one budget: scrypt on libuv's threadpool and the database's connections. At most
 * `maxInFlight` verifications run at once, at most `maxWaiting` more wait, each for at most `maxWaitMs`; anything
 * beyond is shed: HTTP answers 503 `unavailable` with Retry-After, RADIUS sends nothing (it has no "busy" answer).
 *
 * Why: a verification costs scrypt, database connections and, for a device login, a bundle of thousands of HMACs.
 * Without a bound, a storm of logins queues without limit and every answer comes late: later than the agent's
 * reachability budget (2 s), so the agent has already gone offline while the server still spends the user's token
 * code and builds a bundle nobody receives (a NAS has likewise retransmitted or failed over). Shedding early keeps the
 * admitted requests fast and tells the others, within the budget, that nothing was decided.
 *
 * Each front end takes its place before anything is counted, claimed or reserved (the lockout attempt of
 * services/verification.ts, a device login's nonce, RADIUS's duplicate claim): a shed request never counts against
 * the user and burns nothing. It takes it only once the request is whole and its sender known (the HTTP routes after
 * the body is read and the client key or device signature checked; RADIUS after the client and the
 * Message-Authenticator): a place taken as soon as the headers arrived was held by connections that never sent their
 * body, and 8 of those, without any credential, shed every verification and RADIUS request for as long as they stayed.
 * What runs before the gate is cheap and writes nothing (a lookup and a signature check; the nonce is recorded after),
 * so shedding stays quick in a storm (a first HTTP version also stored the nonce first: its 503s took 4.7 s).
 */

export const AdmissionLimitsSchema = z.strictObject({
  /** Verifications in progress at once on this instance. */
  maxInFlight: z.number().int().min(1).max(10_000),
  /** Verifications waiting for a free place; 0 sheds as soon as every place is taken. */
  maxWaiting: z.number().int().min(0).max(100_000),
  /** The longest a request waits for a place (ms); well below the agent's 2 s reachability budget. */
  maxWaitMs: z.number().int().min(0).max(60_000),
});
export type AdmissionLimits = z.infer<typeof AdmissionLimitsSchema>;

/** libuv's default threadpool size, which scrypt (node:crypto's async KDFs) runs on. */
const DEFAULT_THREADPOOL_SIZE = 4;

/**
 * Defaults derived from the machine: two verifications per threadpool thread keep the threads busy while the others
 * wait on the database or build a bundle (and stay within PostgreSQL's pool of 10); the queue bounds how many may
 * wait at all; one second of waiting leaves the agent half of its 2 s budget for the answer, and it is the wait that
 * keeps answers within the budget in a storm (docs/benchmarks.md, login storm, run E).
 */
export function defaultAdmissionLimits(threadpoolSize = DEFAULT_THREADPOOL_SIZE): AdmissionLimits {
  const maxInFlight = 2 * threadpoolSize;
  return { maxInFlight, maxWaiting: 4 * maxInFlight, maxWaitMs: 1_000 };
}

/**
 * No more verifications in progress than the database has connections: one admitted beyond them would only wait for
 * a connection, and be refused after its work had begun (503 from the pool instead of a fair wait in the gate's
 * queue). Under a small pool that turned a login storm into retries that starved some logins for good.
 */
export function withinConnections(limits: AdmissionLimits, connections: number | undefined): AdmissionLimits {
  return connections === undefined ? limits : { ...limits, maxInFlight: Math.min(limits.maxInFlight, connections) };
}

/** What the gate has done since the process started; no user, code or address in it. */
export const AdmissionStatsSchema = z.object({
  limits: AdmissionLimitsSchema,
  inFlight: z.number().int(),
  waiting: z.number().int(),
  admitted: z.number().int(),
  /** Refused at once because the queue was full, or after waiting `maxWaitMs` in it. */
  shed: z.object({ queueFull: z.number().int(), waitedTooLong: z.number().int() }),
});
export type AdmissionStats = z.infer<typeof AdmissionStatsSchema>;

/** Gives a place back; once (later calls do nothing). */
export type Release = () => void;

interface Waiter {
  admit: (release: Release) => void;
  timer: NodeJS.Timeout;
}

/** How often a shedding instance writes a log line at most; the count in between goes into the next line. */
const SHED_LOG_EVERY_MS = 1_000;

export class AdmissionGate {
  private inFlight = 0;
  private readonly queue: Waiter[] = [];
  private admitted = 0;
  private readonly shed = { queueFull: 0, waitedTooLong: 0 };
  private unloggedSheds = 0;
  private lastShedLog = Number.NEGATIVE_INFINITY;

  constructor(
    readonly limits: AdmissionLimits,
    private readonly log: Logger,
  ) {}

  /** Seconds a shed client is told to wait: the queue's own horizon, at least one. */
  get retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.limits.maxWaitMs / 1000));
  }

  /**
   * A place, as the function that gives it back (once; later calls do nothing), or null: shed, or `abandoned` fired
   * while waiting (the client went away; it leaves the queue without taking a place and is not counted as shed).
   */
  enter(abandoned?: AbortSignal): Promise<Release | null> {
    if (abandoned?.aborted) return Promise.resolve(null);
    if (this.inFlight < this.limits.maxInFlight && this.queue.length === 0) return Promise.resolve(this.take());
    if (this.queue.length >= this.limits.maxWaiting || this.limits.maxWaitMs === 0) {
      this.noteShed('queueFull');
      return Promise.resolve(null);
    }
    return new Promise((resolve) => {
      const leave = (reason?: keyof AdmissionStats['shed']) => {
        clearTimeout(waiter.timer);
        abandoned?.removeEventListener('abort', onAbandoned);
        this.queue.splice(this.queue.indexOf(waiter), 1);
        if (reason) this.noteShed(reason);
        resolve(null);
      };
      const onAbandoned = () => leave();
      const waiter: Waiter = {
        admit: (release) => {
          abandoned?.removeEventListener('abort', onAbandoned);
          resolve(release);
        },
        timer: setTimeout(() => leave('waitedTooLong'), this.limits.maxWaitMs),
      };
      abandoned?.addEventListener('abort', onAbandoned, { once: true });
      this.queue.push(waiter);
    });
  }

  stats(): AdmissionStats {
    return {
      limits: { ...this.limits },
      inFlight: this.inFlight,
      waiting: this.queue.length,
      admitted: this.admitted,
      shed: { ...this.shed },
    };
  }

  private take(): Release {
    this.inFlight++;
    this.admitted++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight--;
      // The place goes straight to the longest waiter, so a newcomer cannot overtake the queue.
      const next = this.queue.shift();
      if (next) {
        clearTimeout(next.timer);
        next.admit(this.take());
      }
    };
  }

  private noteShed(reason: keyof AdmissionStats['shed']): void {
    this.shed[reason]++;
    this.unloggedSheds++;
    // One line per second at most: a storm sheds hundreds of requests a second and each is in the request log already.
    const now = performance.now();
    if (now - this.lastShedLog < SHED_LOG_EVERY_MS) return;
    this.log.warn(
      { component: 'admission', shed: this.unloggedSheds, reason, inFlight: this.inFlight, waiting: this.queue.length },
      'verifications shed: the instance is at its limit',
    );
    this.unloggedSheds = 0;
    this.lastShedLog = now;
  }
}
