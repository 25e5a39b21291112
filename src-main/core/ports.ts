/**
 * The small ports the agent core talks to. The shells (Electron, browser shell) and the tests supply them, so the
 * core never reaches for the platform on its own: a test can move the clock, swap the machine id or silence the
 * network without touching the code under test.
 */

// Time is the shared clock port (src-shared/clock.ts): tests move the workstation's clock back and forward.
export { ManualClock, systemClock, type Clock } from '../../src-shared/clock.js';

/**
 * The OS keychain: small secrets by name. `get` returns null only when the entry is absent; an unreachable or
 * locked keychain throws, so absence can never be confused with failure.
 */
export interface Keychain {
  /** Throws a LifelineError('keychain_unavailable') with the reason when no real keychain answers. */
  probe(): Promise<void>;
  get(name: string): Promise<string | null>;
  set(name: string, value: string): Promise<void>;
  delete(name: string): Promise<boolean>;
}

/** The machine id, hashed (node-machine-id's SHA-256): a consistency check bound into the store, not a secret. */
export interface MachineId {
  hash(): Promise<string>;
}

/** The HTTP port: the global fetch by default; tests may wrap it. */
export type HttpFetch = (url: string, init: RequestInit) => Promise<Response>;

/** Structured log lines with the component in front; never a code, PIN, key or verifier. */
export interface AgentLogger {
  info(msg: string, fields?: Record<string, string | number | boolean>): void;
  warn(msg: string, fields?: Record<string, string | number | boolean>): void;
  error(msg: string, fields?: Record<string, string | number | boolean>): void;
}

export const silentLogger: AgentLogger = { info() {}, warn() {}, error() {} };
