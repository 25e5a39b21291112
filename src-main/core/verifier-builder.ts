import { wipe } from '../../src-shared/crypto/compare.js';
import type { ScryptParams } from '../../src-shared/crypto/kdf.js';
import type { AgentLogger } from './ports.js';
import type { AgentStore } from './store/store.js';
import { UserRepo } from './store/users.js';
import { VerifierRepo } from './store/verifiers.js';
import { computeVerifier } from './verifier-hash.js';

/** How many verifiers are hashed (in libuv's thread pool) and then written in one transaction. */
const CHUNK = 32;

export interface BuildJob {
  ref: string;
  username: string;
  deviceId: string;
  /** The bundle sequence the job belongs to: a later bundle, a reset or a wipe makes it stale. */
  sequence: number;
  pin: Buffer;
  scrypt: ScryptParams;
  slots: { index: number; code: Buffer; expiresAt: number }[];
  /** Token codes of consecutive steps from `firstStep`, `digits` bytes each, nearest first already. */
  windows?: { firstStep: number; digits: number; codes: Buffer };
}

/**
 * Turns downloaded codes into verifiers in the background (docs/design.md §5): slots first, then token windows from the
 * nearest on, each plaintext code overwritten as soon as its verifier is committed. Codes never touch the disk:
 * when the agent stops (or a newer login, a reset or a wipe makes the job stale) whatever is left is erased.
 */
export class VerifierBuilder {
  private readonly jobs = new Map<string, BuildJob>();
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly users: UserRepo;
  private readonly verifiers: VerifierRepo;

  constructor(
    private readonly store: AgentStore,
    private readonly log: AgentLogger,
  ) {
    this.users = new UserRepo(store);
    this.verifiers = new VerifierRepo(store);
  }

  enqueue(job: BuildJob): void {
    const previous = this.jobs.get(job.ref);
    if (previous) discard(previous);
    if (this.stopped) return discard(job);
    this.jobs.set(job.ref, job);
    this.running ??= this.run().finally(() => (this.running = null));
  }

  /** Whether a user's offline data is still being prepared. */
  busyWith(ref: string): boolean {
    return this.jobs.has(ref);
  }

  /** Resolves when every queued job is done (tests and benchmarks wait on it). */
  async whenIdle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Drops every job, erasing the plaintext codes that were not hashed yet. */
  stop(): void {
    this.stopped = true;
    for (const job of this.jobs.values()) discard(job);
    this.jobs.clear();
  }

  /** Drops one user's job (their data was wiped or reset). */
  cancel(ref: string): void {
    const job = this.jobs.get(ref);
    if (job) discard(job);
    this.jobs.delete(ref);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const next = this.jobs.values().next();
      if (next.done) return;
      const job = next.value;
      try {
        await this.build(job);
      } catch (err) {
        this.log.error('[verifiers] building offline data failed', {
          reason: err instanceof Error ? err.message.slice(0, 120) : 'unknown',
        });
      } finally {
        if (this.jobs.get(job.ref) === job) this.jobs.delete(job.ref);
        discard(job);
      }
    }
  }

  private async build(job: BuildJob): Promise<void> {
    const items: { kind: 'slot' | 'token'; position: number; code: Buffer; expiresAt?: number }[] = job.slots.map(
      (s) => ({ kind: 'slot', position: s.index, code: s.code, expiresAt: s.expiresAt }),
    );
    if (job.windows) {
      const { firstStep, digits, codes } = job.windows;
      for (let i = 0; i * digits < codes.length; i++)
        items.push({ kind: 'token', position: firstStep + i, code: codes.subarray(i * digits, (i + 1) * digits) });
    }
    const hashChunk = (from: number) =>
      Promise.all(
        items.slice(from, from + CHUNK).map((it) =>
          computeVerifier(
            {
              kind: it.kind,
              position: it.position,
              username: job.username,
              deviceId: job.deviceId,
              code: it.code,
              ...(it.kind === 'token' ? { pin: job.pin } : {}),
            },
            job.scrypt,
          ),
        ),
      );
    // Pipelined: the thread pool hashes the next chunk while this one is committed on the main thread.
    let pending = items.length > 0 ? hashChunk(0) : null;
    for (let i = 0; pending; i += CHUNK) {
      const hashes = await pending;
      const chunk = items.slice(i, i + CHUNK);
      pending = i + CHUNK < items.length && this.jobs.get(job.ref) === job ? hashChunk(i + CHUNK) : null;
      if (this.jobs.get(job.ref) !== job) {
        wipe(...hashes, ...((await pending) ?? []));
        return; // replaced or cancelled meanwhile
      }
      const written = await this.store.commit(
        () => {
          const record = this.users.get(job.ref);
          if (!record || record.lastSequence !== job.sequence) return false; // a reset, wipe or newer bundle won
          const floor = record.burnedThrough ?? -1;
          chunk.forEach((it, k) => {
            if (it.kind === 'token' && it.position <= floor) return;
            this.verifiers.put(job.ref, it.kind, it.position, {
              hash: hashes[k]!.toString('base64url'),
              scrypt: job.scrypt,
              ...(it.expiresAt ? { expiresAt: it.expiresAt } : {}),
            });
          });
          return true;
        },
        { bump: false },
      ); // adding verifiers un-burns nothing, so a rollback of it is harmless
      for (const it of chunk) wipe(it.code);
      wipe(...hashes);
      if (!written) {
        wipe(...((await pending) ?? []));
        return;
      }
    }
  }
}

function discard(job: BuildJob): void {
  wipe(job.pin, job.windows?.codes, ...job.slots.map((s) => s.code));
}
