import { createRequire } from 'node:module';

/**
 * autocannon ships no type definitions; this is the typed subset the benchmarks use (see its README for the rest).
 * Latencies are in milliseconds, `requests.average` in requests per second.
 */
export interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (
    req: { body?: string; headers?: Record<string, string> },
    context: Record<string, unknown>,
  ) => { body?: string; headers?: Record<string, string> };
}

export interface AutocannonOptions {
  url: string;
  connections: number;
  duration: number;
  /** Requests per second over all connections (an offered load below capacity, for latency without queueing). */
  overallRate?: number;
  method?: string;
  headers?: Record<string, string>;
  requests?: AutocannonRequest[];
}

export interface AutocannonResult {
  /** Every answer per second, whatever its status: never a throughput figure on its own (see successfulPerSecond). */
  requests: { average: number; total: number };
  '2xx': number;
  /** Seconds the run lasted. */
  duration: number;
  latency: { p50: number; p99: number; average: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodeStats: Record<string, { count: number }>;
}

const require = createRequire(import.meta.url);
const autocannonFn = require('autocannon') as (opts: AutocannonOptions) => Promise<AutocannonResult>;

export function autocannon(opts: AutocannonOptions): Promise<AutocannonResult> {
  return autocannonFn(opts);
}

/**
 * Throughput counts only successful answers: a shed request (503) or any other non-2xx answer is cheap, so counting
 * it would flatter an overloaded server (a run once printed a ratio of 1.80 with 242 non-2xx answers; 0.83 without).
 */
export function successfulPerSecond(r: AutocannonResult): number {
  return r.duration > 0 ? r['2xx'] / r.duration : 0;
}

/** What did not succeed, reported beside the throughput: shed (503), other non-2xx answers, and transport errors. */
export interface Unsuccessful {
  shed: number;
  otherNon2xx: number;
  errors: number;
}

export function unsuccessful(results: AutocannonResult[]): Unsuccessful {
  return results.reduce<Unsuccessful>(
    (a, r) => {
      const shed = r.statusCodeStats['503']?.count ?? 0;
      return {
        shed: a.shed + shed,
        otherNon2xx: a.otherNon2xx + r.non2xx - shed,
        errors: a.errors + r.errors + r.timeouts,
      };
    },
    { shed: 0, otherNon2xx: 0, errors: 0 },
  );
}

export const describeUnsuccessful = (u: Unsuccessful): string =>
  `shed 503: ${u.shed}, other non-2xx: ${u.otherNon2xx}, errors: ${u.errors}`;
