import type { ScryptParams } from '../../../src-shared/crypto/kdf.js';
import type { VerifierKind } from './sealed-rows.js';
import type { AgentStore } from './store.js';

export interface SealedVerifier {
  hash: string; // base64url
  expiresAt?: number | null;
  /** The scrypt parameters it was built with: a later policy change must not void it by accident. */
  scrypt?: ScryptParams;
}

export interface StoredVerifier {
  position: number;
  verifier: SealedVerifier;
  /** The sealed row it came from: a multi-use code is accepted only while that very row is still stored. */
  sealed: Buffer;
}

/** A user's verifiers by kind and position (token window, slot number, 0 for the temporary code). Writes go inside `store.commit`. */
export class VerifierRepo {
  constructor(private readonly store: AgentStore) {}

  list(ref: string, kind: VerifierKind, from?: number, to?: number): StoredVerifier[] {
    return this.store
      .openVerifiers<SealedVerifier>(ref, kind, from, to)
      .map((row) => ({ position: row.position, verifier: row.value, sealed: row.sealed }));
  }

  positions(ref: string, kind: VerifierKind): number[] {
    return this.store.verifiers(ref, kind).map((row) => row.position);
  }

  /** The highest position held (the last token window the offline data covers), if any. */
  last(ref: string, kind: VerifierKind): number | undefined {
    return this.store.maxVerifierPosition(ref, kind);
  }

  /** Whether exactly this sealed row is still stored (not replaced or removed since it was read). */
  stillStored(ref: string, kind: VerifierKind, row: StoredVerifier): boolean {
    return this.store.verifiers(ref, kind, row.position, row.position)[0]?.sealed.equals(row.sealed) === true;
  }

  put(ref: string, kind: VerifierKind, position: number, verifier: SealedVerifier): void {
    this.store.putVerifier(ref, kind, position, verifier);
  }

  /** Removes one; returns how many rows went (0: it was not there, e.g. another attempt consumed it first). */
  remove(ref: string, kind: VerifierKind, position: number): number {
    return this.store.deleteVerifier(ref, kind, position);
  }

  /** Removes every one of `kind` up to and including `upTo` (all by default); returns how many went. */
  removeUpTo(ref: string, kind: VerifierKind, upTo?: number): number {
    return this.store.deleteVerifiers(ref, kind, upTo);
  }
}
