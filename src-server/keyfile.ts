import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { randomBytes } from '../src-shared/crypto/random.js';
import { generateEd25519, keyFingerprint } from '../src-shared/crypto/sign.js';

/**
 * The server's secrets, kept outside the database in one file (mode 0600): the pepper for code hashes, the master
 * key for secrets that must be read again (token seeds, offline emergency codes, RADIUS secrets), and the Ed25519
 * signing keys (current first; older ones kept for verification during a rotation). A stolen database without this
 * file yields only peppered hashes and ciphertext.
 */
const SigningKeySchema = z.object({ publicKey: z.string(), privateKey: z.string(), createdAt: z.number().int() });

export const KeyFileSchema = z.object({
  version: z.literal(1),
  pepper: z.string().length(43), // 32 bytes base64url
  masterKey: z.string().length(43),
  signingKeys: z.array(SigningKeySchema).min(1),
});
export type KeyFile = z.infer<typeof KeyFileSchema>;

export interface ServerKeys {
  pepper: Buffer;
  masterKey: Buffer;
  signing: { publicKey: string; privateKey: string; fingerprint: string };
  /** Every signing public key this server has used or will use, current first (for agents' pinning during rotation). */
  allSigningKeys: { publicKey: string; fingerprint: string }[];
}

export function createKeyFile(file: string, now = Date.now()): KeyFile {
  if (existsSync(file)) throw new Error(`key file ${file} already exists; refusing to overwrite it`);
  const keys: KeyFile = {
    version: 1,
    pepper: randomBytes(32).toString('base64url'),
    masterKey: randomBytes(32).toString('base64url'),
    signingKeys: [{ ...generateEd25519(), createdAt: now }],
  };
  writeFileSync(file, JSON.stringify(keys, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return keys;
}

export function loadKeyFile(file: string): ServerKeys {
  const raw = readFileSync(file, 'utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`key file ${file} is not valid JSON`);
  }
  const result = KeyFileSchema.safeParse(parsed);
  if (!result.success) throw new Error(`key file ${file} is invalid: ${result.error.issues.map((i) => i.path.join('.') + ' ' + i.message).join('; ')}`);
  const kf = result.data;
  const current = kf.signingKeys[0]!;
  return {
    pepper: Buffer.from(kf.pepper, 'base64url'),
    masterKey: Buffer.from(kf.masterKey, 'base64url'),
    signing: { ...current, fingerprint: keyFingerprint(current.publicKey) },
    allSigningKeys: kf.signingKeys.map((k) => ({ publicKey: k.publicKey, fingerprint: keyFingerprint(k.publicKey) })),
  };
}
