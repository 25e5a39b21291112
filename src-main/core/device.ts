import { hostname } from 'node:os';
import { generateX25519, type X25519KeyPair } from '../../src-shared/crypto/box.js';
import { signDeviceRequest, signEnrollProof } from '../../src-shared/crypto/device-messages.js';
import { generateEd25519, keyFingerprint, type Ed25519KeyPair } from '../../src-shared/crypto/sign.js';
import { ErrorCodeSchema, LifelineError } from '../../src-shared/errors.js';
import { EnrollResponseSchema, PROTOCOL_VERSION, type ServerKey } from '../../src-shared/protocol/index.js';
import type { AgentConfig } from './agent-config.js';
import type { Keychain } from './ports.js';
import type { ServerClient } from './server-client.js';
import { KEYCHAIN } from './store/store.js';

export const AGENT_VERSION = '0.1.0';

export type DeviceStatus = 'unenrolled' | 'pending' | 'approved' | 'revoked';

/** The device's public facts, kept (sealed) in the store; its private keys live only in the keychain. */
export interface DeviceState {
  deviceId: string | null;
  status: DeviceStatus;
  /** The server keys this agent trusts: those IT pinned, then whatever a signed key rotation added. */
  serverKeys: ServerKey[];
  /** The signing public key the device enrolled with (absent in stores from before it was kept). */
  signingKey?: string;
}

export interface DeviceKeys {
  signing: Ed25519KeyPair;
  box: X25519KeyPair;
}

/** A device the server has not named yet (no store, or a store before its first enrollment). */
export function unenrolled(): DeviceState {
  return { deviceId: null, status: 'unenrolled', serverKeys: [] };
}

/** The device keys from the keychain, created on first use (Ed25519 to sign, a separate X25519 to receive). */
export async function loadDeviceKeys(keychain: Keychain, create: boolean): Promise<DeviceKeys | null> {
  const sign = await keychain.get(KEYCHAIN.deviceSign);
  const box = await keychain.get(KEYCHAIN.deviceBox);
  if (sign && box) return { signing: JSON.parse(sign) as Ed25519KeyPair, box: JSON.parse(box) as X25519KeyPair };
  if (!create) return null;
  const keys = { signing: generateEd25519(), box: generateX25519() };
  await keychain.set(KEYCHAIN.deviceSign, JSON.stringify(keys.signing));
  await keychain.set(KEYCHAIN.deviceBox, JSON.stringify(keys.box));
  return keys;
}

/**
 * Enrolls with the enrollment secret and the machine-id hash. The server's keys are trusted only when their
 * fingerprints are among those IT pinned (and match the keys): an impostor server cannot become trusted here.
 */
export async function enroll(opts: {
  config: AgentConfig;
  client: ServerClient;
  keys: DeviceKeys;
  machineIdHash: string;
  timeoutMs: number;
}): Promise<{ reachable: false } | { reachable: true; state: DeviceState; serverTime: number }> {
  const { keys, config } = opts;
  const unsigned = {
    v: PROTOCOL_VERSION,
    machineIdHash: opts.machineIdHash,
    signingPublicKey: keys.signing.publicKey,
    encryptionPublicKey: keys.box.publicKey,
    hostname: (config.deviceName === 'workstation' ? hostname() : config.deviceName).slice(0, 255) || 'workstation',
    agentVersion: AGENT_VERSION,
  };
  const body = {
    ...unsigned,
    enrollmentSecret: config.enrollmentSecret,
    proof: signEnrollProof(keys.signing.privateKey, unsigned),
  };
  const answer = await opts.client.post('/api/v1/devices/enroll', body, { timeoutMs: opts.timeoutMs });
  if (!answer.reachable) return { reachable: false };
  if (answer.status !== 200) throw serverRefused(answer.body, 'The server refused to enroll this computer.');
  const parsed = EnrollResponseSchema.safeParse(answer.body);
  if (!parsed.success)
    throw new LifelineError('bad_request', 'The server answered the enrollment with something unexpected.', 502);
  const trusted = parsed.data.serverKeys.filter(
    (k) => config.serverKeyFingerprints.includes(k.fingerprint) && keyFingerprint(k.publicKey) === k.fingerprint,
  );
  if (trusted.length === 0)
    throw new LifelineError(
      'bad_signature',
      "The server's signing key is not one this agent was configured to trust.",
      502,
    );
  return {
    reachable: true,
    state: { deviceId: parsed.data.deviceId, status: parsed.data.status, serverKeys: trusted },
    serverTime: parsed.data.serverTime,
  };
}

export function signedHeaders(
  keys: DeviceKeys,
  deviceId: string,
  path: string,
  body: unknown,
  now: number,
  nonce?: string,
): Record<string, string> {
  return signDeviceRequest(keys.signing.privateKey, { method: 'POST', path, deviceId, body }, now, nonce);
}

/** A coded error the server sent, kept as data (never a stack trace or the server's internals). */
export function serverRefused(body: unknown, fallback: string): LifelineError {
  const b = body as { error?: unknown; message?: unknown; retryAfterSeconds?: unknown } | null;
  const code = ErrorCodeSchema.safeParse(b?.error);
  const message = typeof b?.message === 'string' ? b.message.slice(0, 300) : fallback;
  const retry =
    typeof b?.retryAfterSeconds === 'number' && b.retryAfterSeconds >= 0
      ? { retryAfterSeconds: Math.ceil(b.retryAfterSeconds) }
      : {};
  return new LifelineError(code.success ? code.data : 'bad_request', message, 400, retry);
}
