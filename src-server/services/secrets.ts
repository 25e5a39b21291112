import { open, seal } from '../../src-shared/crypto/aead.js';
import type { ServerContext } from '../context.js';

/**
 * Secrets the server must read again (token seeds, admin TOTP seeds, offline emergency codes), sealed with
 * AES-256-GCM under the master key from the key file. `aad` names what the ciphertext belongs to (e.g.
 * `token:<user id>`), so a ciphertext copied into another row does not open.
 */
export function encryptSecret(ctx: Pick<ServerContext, 'keys'>, aad: string, plaintext: Buffer): Buffer {
  return seal(ctx.keys.masterKey, plaintext, aad);
}

export function decryptSecret(ctx: Pick<ServerContext, 'keys'>, aad: string, sealed: Buffer): Buffer {
  return open(ctx.keys.masterKey, sealed, aad);
}
