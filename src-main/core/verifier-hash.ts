import { scryptAsync, type ScryptParams } from '../../src-shared/crypto/kdf.js';
import type { VerifierKind } from './store/sealed-rows.js';

/**
 * The memory-hard verifier of one code at one position (docs/design.md §5):
 *   token window:    scrypt(PIN ‖ code, "token" ‖ window ‖ user ‖ device)
 *   temporary code:  scrypt(PIN ‖ code, "temporary" ‖ 0 ‖ user ‖ device)
 *   emergency slot:  scrypt(code, "slot" ‖ slot ‖ user ‖ device)            (no PIN: RSA serves a forgotten PIN too)
 * Every part is length-prefixed so no two different inputs meet. With the store decrypted, an attacker still has
 * no test of a PIN on its own: each guess is a (PIN, code) pair and costs one scrypt.
 */
export interface VerifierInput {
  kind: VerifierKind;
  position: number;
  username: string;
  deviceId: string;
  /** Omitted for slots. */
  pin?: Buffer;
  code: Buffer;
}

export function computeVerifier(input: VerifierInput, params: ScryptParams): Promise<Buffer> {
  const secret = lengthPrefixed(input.kind === 'slot' ? [input.code] : [input.pin ?? Buffer.alloc(0), input.code]);
  const salt = lengthPrefixed([
    Buffer.from(`lifeline/agent-verifier/v1/${input.kind}`),
    Buffer.from(String(input.position)),
    Buffer.from(input.username, 'utf8'),
    Buffer.from(input.deviceId, 'utf8'),
  ]);
  return scryptAsync(secret, salt, params).finally(() => secret.fill(0));
}

function lengthPrefixed(parts: Buffer[]): Buffer {
  const out: Buffer[] = [];
  for (const part of parts) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(part.length);
    out.push(len, part);
  }
  return Buffer.concat(out);
}
