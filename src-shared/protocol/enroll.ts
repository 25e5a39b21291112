import { z } from 'zod';
import {
  DeviceIdSchema,
  EpochMsSchema,
  PublicKeySchema,
  ServerKeySchema,
  Sha256HexSchema,
  SignatureSchema,
  VersionSchema,
} from './common.js';

/**
 * POST /api/v1/devices/enroll (not device-signed: the device has no registered key yet). The enrollment secret
 * only lets a device ask; `proof` is the device's signature (domain SIGNATURE_DOMAINS.enroll) over
 * `enrollProofPayload(body)`, proving it holds the signing key it registers. Enrolling the same signing key again
 * returns the same device (an agent that lost the first answer may retry).
 */
export const DEVICE_STATUSES = ['pending', 'approved', 'revoked'] as const;
export const DeviceStatusSchema = z.enum(DEVICE_STATUSES);
export type DeviceStatus = z.infer<typeof DeviceStatusSchema>;

export const EnrollRequestSchema = z.strictObject({
  v: VersionSchema,
  enrollmentSecret: z.string().min(16).max(256),
  /** SHA-256 of the machine id (node-machine-id, hashed): a consistency check, not a secret. */
  machineIdHash: Sha256HexSchema,
  signingPublicKey: PublicKeySchema,
  encryptionPublicKey: PublicKeySchema,
  hostname: z.string().min(1).max(255),
  agentVersion: z.string().min(1).max(64),
  proof: SignatureSchema,
});
export type EnrollRequest = z.infer<typeof EnrollRequestSchema>;

/** What `proof` signs: everything but the enrollment secret and the proof itself. */
export function enrollProofPayload(r: Omit<EnrollRequest, 'proof' | 'enrollmentSecret'>) {
  return {
    v: r.v,
    machineIdHash: r.machineIdHash,
    signingPublicKey: r.signingPublicKey,
    encryptionPublicKey: r.encryptionPublicKey,
    hostname: r.hostname,
    agentVersion: r.agentVersion,
  };
}

export const EnrollResponseSchema = z.strictObject({
  v: VersionSchema,
  deviceId: DeviceIdSchema,
  status: z.enum(['pending', 'approved']),
  /** The server's signing keys, current first; the agent checks them against the fingerprints IT pinned. */
  serverKeys: z.array(ServerKeySchema).min(1),
  serverTime: EpochMsSchema,
});
export type EnrollResponse = z.infer<typeof EnrollResponseSchema>;
