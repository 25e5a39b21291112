import { z } from 'zod';
import { CROCKFORD_ALPHABET } from '../codes.js';

/**
 * Shared building blocks of the agent protocol (docs/protocol.md). Every message carries `v`, the protocol version;
 * every signature is Ed25519 over src-shared/crypto/sign.ts `signingInput(domain, version, canonical payload)`, with
 * one domain per kind of message so that a signature made for one can never be replayed as another.
 */
export const PROTOCOL_VERSION = 1 as const;

export const SIGNATURE_DOMAINS = {
  /** Proof that the enrolling agent holds the private half of the signing key it registers. */
  enroll: 'device-enroll',
  /** Every signed HTTP request of a device (method, path, device, timestamp, nonce, body digest). */
  request: 'device-request',
  /** A bundle delta: header and ciphertext, signed by the server. */
  bundle: 'bundle',
  /** The result of an online device login, signed by the server and bound to the request nonce. */
  loginResult: 'login-result',
  /** One outbox event's hash-chain link. */
  syncEvent: 'sync-event',
  /** The head of an uploaded outbox batch, signed by the device. */
  syncBatch: 'sync-batch',
  /** The server's acknowledgement of a batch. */
  syncAck: 'sync-ack',
  /** The server's resets for a device after a sync. */
  reset: 'reset',
  /** The wipe order sent to a revoked device, and nothing else. */
  wipe: 'wipe',
  /** The server's signing keys (current, next, retired), signed by the current key. */
  keyRotation: 'key-rotation',
} as const;
export type SignatureDomain = (typeof SIGNATURE_DOMAINS)[keyof typeof SIGNATURE_DOMAINS];

export const VersionSchema = z.literal(PROTOCOL_VERSION);

/** Device ids are 10 Crockford symbols (50 random bits): short enough to read aloud inside an emergency request. */
export const DEVICE_ID_LENGTH = 10;
export const DeviceIdSchema = z
  .string()
  .length(DEVICE_ID_LENGTH)
  .refine((s) => [...s].every((c) => CROCKFORD_ALPHABET.includes(c)), 'a device id is 10 Crockford symbols');

const BASE64URL = /^[A-Za-z0-9_-]+$/;
export const Base64UrlSchema = z.string().regex(BASE64URL, 'base64url');
/** A raw 32-byte Ed25519 or X25519 public key, base64url without padding (43 characters). */
export const PublicKeySchema = z.string().length(43).regex(BASE64URL, 'base64url');
/** An Ed25519 signature, base64url (86 characters). */
export const SignatureSchema = z.string().length(86).regex(BASE64URL, 'base64url');
/** SHA-256, lower-case hex. */
export const Sha256HexSchema = z.string().regex(/^[0-9a-f]{64}$/, 'SHA-256 hex');
/** A request nonce: 16 to 48 random bytes, base64url. */
export const NonceSchema = z.string().regex(/^[A-Za-z0-9_-]{22,64}$/, 'a nonce is 16 to 48 random bytes, base64url');
export const EpochMsSchema = z.number().int().nonnegative();
/** A TOTP time step (floor(unix seconds / period)). */
export const StepSchema = z.number().int().nonnegative();
/** Usernames as the server normalised them (NFC, trimmed, lower case); the agent keeps the server's form. */
export const UsernameSchema = z.string().min(1).max(128);

export const ServerKeySchema = z.strictObject({ publicKey: PublicKeySchema, fingerprint: Sha256HexSchema });
export type ServerKey = z.infer<typeof ServerKeySchema>;

/** What a server-signed message looks like on the wire: the payload, which key signed it, and the signature. */
export function signedSchema<T extends z.ZodType>(payload: T) {
  return z.strictObject({ payload, keyFingerprint: Sha256HexSchema, signature: SignatureSchema });
}
export interface Signed<T> {
  payload: T;
  keyFingerprint: string;
  signature: string;
}
