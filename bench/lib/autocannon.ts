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
  setupRequest?: (req: { body?: string; headers?: Record<string, string> }, context: Record<string, unknown>) => { body?: string; headers?: Record<string, string> };
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
  requests: { average: number; total: number };
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
