import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { randomBytes } from '../src-shared/crypto/random.js';
import { generateEd25519, keyFingerprint } from '../src-shared/crypto/sign.js';

/**
 * The server's secrets, kept outside the database in one file (mode 0600): the pepper for code hashes, the master
 * key for secrets that must be read again (token seeds, offline emergency codes, RADIUS secrets), and the Ed25519
 * signing keys. A stolen database without this file yields only peppered hashes and ciphertext.
 *
 * Signing keys have a lifecycle so the key can be rotated without stranding agents (docs/design.md §6):
 *   next     — staged: announced to agents (signed by the current key) but not used to sign yet;
 *   current  — signs bundles, resets and audit checkpoints (exactly one);
 *   previous — no longer signs, still announced as accepted during the overlap;
 *   retired  — revoked: no longer announced to agents; kept only to verify old audit checkpoints.
 */
const KEY_STATES = ['next', 'current', 'previous', 'retired'] as const;
type KeyState = (typeof KEY_STATES)[number];

const SigningKeySchema = z.object({
  publicKey: z.string(),
  privateKey: z.string(),
  createdAt: z.number().int(),
  // Absent in files written before rotation existed: the first key is then the current one.
  state: z.enum(KEY_STATES).optional(),
});

export const KeyFileSchema = z.object({
  version: z.literal(1),
  pepper: z.string().length(43), // 32 bytes base64url
  masterKey: z.string().length(43),
  signingKeys: z.array(SigningKeySchema).min(1),
});
export type KeyFile = z.infer<typeof KeyFileSchema>;

export interface PublicSigningKey {
  publicKey: string;
  fingerprint: string;
}

export interface ServerKeys {
  pepper: Buffer;
  masterKey: Buffer;
  signing: { publicKey: string; privateKey: string; fingerprint: string };
  /** The keys agents should accept now, current first, then staged and previous ones (never retired ones). */
  allSigningKeys: PublicSigningKey[];
  /** Every key this server ever signed with or staged, retired ones included: for verifying old audit checkpoints. */
  auditKeys: PublicSigningKey[];
}

export function createKeyFile(file: string, now = Date.now()): KeyFile {
  if (existsSync(file)) throw new Error(`key file ${file} already exists; refusing to overwrite it`);
  const keys: KeyFile = {
    version: 1,
    pepper: randomBytes(32).toString('base64url'),
    masterKey: randomBytes(32).toString('base64url'),
    signingKeys: [{ ...generateEd25519(), createdAt: now, state: 'current' }],
  };
  writeFileSync(file, JSON.stringify(keys, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return keys;
}

function stateOf(kf: KeyFile, index: number): KeyState {
  const explicit = kf.signingKeys[index]!.state;
  if (explicit) return explicit;
  const anyCurrent = kf.signingKeys.some((k) => k.state === 'current');
  return !anyCurrent && index === 0 ? 'current' : 'previous';
}

export function readKeyFile(file: string): KeyFile {
  const raw = readFileSync(file, 'utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`key file ${file} is not valid JSON`);
  }
  const result = KeyFileSchema.safeParse(parsed);
  if (!result.success)
    throw new Error(
      `key file ${file} is invalid: ${result.error.issues.map((i) => i.path.join('.') + ' ' + i.message).join('; ')}`,
    );
  const currents = result.data.signingKeys.filter((_, i) => stateOf(result.data, i) === 'current');
  if (currents.length !== 1)
    throw new Error(`key file ${file} is invalid: it must hold exactly one current signing key`);
  return result.data;
}

export function loadKeyFile(file: string): ServerKeys {
  const kf = readKeyFile(file);
  const withState = kf.signingKeys.map((k, i) => ({
    ...k,
    state: stateOf(kf, i),
    fingerprint: keyFingerprint(k.publicKey),
  }));
  const current = withState.find((k) => k.state === 'current')!;
  const pub = (k: (typeof withState)[number]): PublicSigningKey => ({
    publicKey: k.publicKey,
    fingerprint: k.fingerprint,
  });
  const order: Record<KeyState, number> = { current: 0, next: 1, previous: 2, retired: 3 };
  const sorted = [...withState].sort((a, b) => order[a.state] - order[b.state]);
  return {
    pepper: Buffer.from(kf.pepper, 'base64url'),
    masterKey: Buffer.from(kf.masterKey, 'base64url'),
    signing: { publicKey: current.publicKey, privateKey: current.privateKey, fingerprint: current.fingerprint },
    allSigningKeys: sorted.filter((k) => k.state !== 'retired').map(pub),
    auditKeys: sorted.map(pub),
  };
}

function writeKeyFile(file: string, kf: KeyFile): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(kf, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600); // `mode` applies only when the file is new: a leftover of a crashed rotation keeps its own
  renameSync(tmp, file); // atomic: a crash leaves the old key file whole
}

/** Step 1 of a rotation: stage a new key that agents learn about at their next sync. Returns its fingerprint. */
export function stageNextSigningKey(file: string, now: number): string {
  const kf = readKeyFile(file);
  if (kf.signingKeys.some((_, i) => stateOf(kf, i) === 'next'))
    throw new Error('a next signing key is already staged; activate it first');
  const key = { ...generateEd25519(), createdAt: now, state: 'next' as const };
  writeKeyFile(file, { ...kf, signingKeys: [...kf.signingKeys.map((k, i) => ({ ...k, state: stateOf(kf, i) })), key] });
  return keyFingerprint(key.publicKey);
}

/** Step 2: the staged key becomes current; the old current one stays accepted (previous) during the overlap. */
export function activateNextSigningKey(file: string): string {
  const kf = readKeyFile(file);
  const states = kf.signingKeys.map((_, i) => stateOf(kf, i));
  const next = states.indexOf('next');
  if (next < 0) throw new Error('no next signing key is staged; stage one first');
  const signingKeys = kf.signingKeys.map(
    (k, i) =>
      ({
        ...k,
        state: i === next ? 'current' : states[i] === 'current' ? 'previous' : states[i],
      }) as KeyFile['signingKeys'][number],
  );
  writeKeyFile(file, { ...kf, signingKeys });
  return keyFingerprint(kf.signingKeys[next]!.publicKey);
}

/** Step 3: revoke an old key (by fingerprint or a unique prefix): agents stop being told to accept it. */
export function retireSigningKey(file: string, fingerprintPrefix: string): string {
  const kf = readKeyFile(file);
  const states = kf.signingKeys.map((_, i) => stateOf(kf, i));
  const matches = kf.signingKeys
    .map((k, i) => ({ i, fp: keyFingerprint(k.publicKey) }))
    .filter((m) => m.fp.startsWith(fingerprintPrefix.toLowerCase()));
  if (matches.length !== 1)
    throw new Error(
      matches.length
        ? 'that prefix matches several keys; give more of the fingerprint'
        : 'no signing key has that fingerprint',
    );
  const { i, fp } = matches[0]!;
  if (states[i] === 'current')
    throw new Error('the current signing key cannot be retired; activate the next key first');
  writeKeyFile(file, {
    ...kf,
    signingKeys: kf.signingKeys.map((k, j) => ({ ...k, state: j === i ? 'retired' : states[j] })),
  });
  return fp;
}

/** For `keys list`: every key with its state, without private halves. */
export function listSigningKeys(file: string): { fingerprint: string; state: KeyState; createdAt: number }[] {
  const kf = readKeyFile(file);
  return kf.signingKeys.map((k, i) => ({
    fingerprint: keyFingerprint(k.publicKey),
    state: stateOf(kf, i),
    createdAt: k.createdAt,
  }));
}
