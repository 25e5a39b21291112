import { z } from 'zod';
import {
  DeviceIdSchema,
  EpochMsSchema,
  NonceSchema,
  PROTOCOL_VERSION,
  Sha256HexSchema,
  SignatureSchema,
} from './common.js';

/**
 * Device request authentication. After enrollment every request of an agent carries these headers; the signature
 * (device Ed25519 key, domain SIGNATURE_DOMAINS.request) covers `DeviceRequestPayload`. The server refuses a
 * timestamp outside ±REQUEST_WINDOW_MS of its own clock and a nonce it has already seen from that device within the
 * window, so a captured request cannot be replayed. An agent whose clock is off learns the server's time from the
 * `serverTime` of its last answer (or the HTTP Date header) and signs with the corrected time.
 */
export const DEVICE_HEADERS = {
  device: 'x-lifeline-device',
  timestamp: 'x-lifeline-timestamp',
  nonce: 'x-lifeline-nonce',
  signature: 'x-lifeline-signature',
} as const;

export const REQUEST_WINDOW_MS = 5 * 60 * 1000;

export const DeviceRequestHeadersSchema = z.object({
  [DEVICE_HEADERS.device]: DeviceIdSchema,
  [DEVICE_HEADERS.timestamp]: z
    .string()
    .regex(/^\d{1,16}$/)
    .transform(Number),
  [DEVICE_HEADERS.nonce]: NonceSchema,
  [DEVICE_HEADERS.signature]: SignatureSchema,
});

export const DeviceRequestPayloadSchema = z.strictObject({
  v: z.literal(PROTOCOL_VERSION),
  method: z.string(),
  /** The URL path without query string, e.g. /api/v1/devices/sync. */
  path: z.string(),
  deviceId: DeviceIdSchema,
  timestamp: EpochMsSchema,
  nonce: NonceSchema,
  /** SHA-256 of canonicalJson(body) (src-shared/crypto/device-request.ts bodyDigest). */
  bodySha256: Sha256HexSchema,
});
export type DeviceRequestPayload = z.infer<typeof DeviceRequestPayloadSchema>;

export function deviceRequestPayload(
  p: Omit<DeviceRequestPayload, 'v' | 'method'> & { method: string },
): DeviceRequestPayload {
  return { v: PROTOCOL_VERSION, ...p, method: p.method.toUpperCase() };
}
