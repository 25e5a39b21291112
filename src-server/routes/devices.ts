import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ApiErrorSchema } from '../../src-shared/errors.js';
import { EnrollRequestSchema, EnrollResponseSchema } from '../../src-shared/protocol/enroll.js';
import {
  DeviceLoginRequestSchema,
  DeviceLoginResponseSchema,
  DeviceRevokedResponseSchema,
} from '../../src-shared/protocol/login.js';
import { SyncRequestSchema, SyncResponseSchema } from '../../src-shared/protocol/sync.js';
import type { App } from '../http/app-type.js';
import type { ServerContext } from '../context.js';
import type { DeviceRecord } from '../db/queries/devices.js';
import { deviceLogin } from '../services/device-login.js';
import { processSync } from '../services/device-sync.js';
import {
  authenticateDeviceRequest,
  checkDeviceSignature,
  claimDeviceNonce,
  enrollDevice,
  wipeOrder,
  type DeviceAuth,
  type SignedDeviceRequest,
} from '../services/devices.js';
import { admissionHook } from '../http/admission.js';
import { sendVerifyFailure, VerifyFailureSchema } from '../http/verify-failure.js';

declare module 'fastify' {
  interface FastifyRequest {
    device?: { row: DeviceRecord; nonce: string };
    /** The device login's signature, checked before its place in the gate; the nonce is recorded after (deviceNonce). */
    deviceSignature?: SignedDeviceRequest;
  }
}

// Room for a full batch of events and the state of MAX_USERS_PER_DEVICE users (test/unit/protocol-limits.test.ts).
export const SYNC_BODY_LIMIT = 1024 * 1024;
const VerifyFailure = VerifyFailureSchema;
const SIGNED_ERRORS = {
  400: ApiErrorSchema,
  401: VerifyFailure.describe(
    'invalid_code, or bad_signature (unknown device, bad or replayed signature, clock outside ±5 minutes)',
  ),
  403: z
    .union([DeviceRevokedResponseSchema, VerifyFailure])
    .describe('device_revoked with the signed wipe order (nothing else), or purpose_not_allowed'),
} as const;

/**
 * The agent protocol (docs/protocol.md). Enrollment is authenticated by the enrollment secret; login and
 * sync by the device's signature over method, path, time, nonce and body, checked before the body is validated.
 */
export async function deviceRoutes(app: App, ctx: ServerContext): Promise<void> {
  const signedParts = (req: FastifyRequest) => ({
    method: req.method,
    path: req.url.split('?')[0]!,
    headers: req.headers,
    body: req.body,
  });
  function admitDevice(req: FastifyRequest, reply: FastifyReply, auth: DeviceAuth) {
    if (!auth.ok) {
      return reply.code(403).send({
        error: 'device_revoked',
        message: 'This device was revoked: wipe its offline data.',
        wipe: wipeOrder(ctx, auth.revoked.id),
      });
    }
    req.device = { row: auth.device, nonce: auth.nonce };
  }
  async function deviceAuth(req: FastifyRequest, reply: FastifyReply) {
    return admitDevice(req, reply, await authenticateDeviceRequest(ctx, signedParts(req)));
  }
  async function deviceSignature(req: FastifyRequest) {
    req.deviceSignature = await checkDeviceSignature(ctx, signedParts(req));
  }
  async function deviceNonce(req: FastifyRequest, reply: FastifyReply) {
    return admitDevice(req, reply, await claimDeviceNonce(ctx, req.deviceSignature!));
  }

  app.post(
    '/api/v1/devices/enroll',
    {
      schema: {
        tags: ['devices'],
        summary: 'Enroll an agent (pending until an admin approves it, unless the policy approves devices)',
        body: EnrollRequestSchema,
        response: {
          200: EnrollResponseSchema,
          400: ApiErrorSchema,
          401: ApiErrorSchema,
          403: ApiErrorSchema,
          409: ApiErrorSchema,
          429: ApiErrorSchema,
        },
      },
    },
    async (req) => enrollDevice(ctx, req.body, req.ip),
  );

  app.post(
    '/api/v1/devices/login',
    {
      // The whole body and a valid device signature first, then a place in the instance's gate (http/admission.ts),
      // then the nonce: a connection still sending its body, or an unsigned request, holds no place, and a shed
      // login has recorded nothing (not even its nonce), counts against no one and spends nothing. The place is held
      // until the answer is sent, bundle included (the costliest part).
      preValidation: deviceSignature,
      preHandler: [admissionHook(app.admission), deviceNonce],
      schema: {
        tags: ['devices'],
        summary: 'Online login at an agent; a token login on an approved device returns the bundle delta',
        description:
          'Signed by the device key: x-lifeline-device, x-lifeline-timestamp, x-lifeline-nonce, x-lifeline-signature (docs/protocol.md).',
        body: DeviceLoginRequestSchema,
        response: {
          200: DeviceLoginResponseSchema,
          ...SIGNED_ERRORS,
          423: VerifyFailure,
          429: VerifyFailure.describe(
            'busy, with Retry-After: other attempts of this user are being checked; nothing was checked or counted',
          ),
          503: ApiErrorSchema.describe(
            'unavailable, with Retry-After: the instance is at its limit and checked nothing; the agent verifies offline',
          ),
        },
      },
    },
    async (req, reply) => {
      const r = await deviceLogin(ctx, req.device!.row, req.device!.nonce, req.body);
      return r.ok ? r : sendVerifyFailure(reply, r);
    },
  );

  app.post(
    '/api/v1/devices/sync',
    {
      // A full batch (MAX_EVENTS_PER_BATCH events of about 350 bytes) is larger than the API's default 64 KiB.
      bodyLimit: SYNC_BODY_LIMIT,
      preValidation: deviceAuth,
      schema: {
        tags: ['devices'],
        summary: 'Upload the outbox; get the signed acknowledgement, resets and server keys',
        description:
          'Signed by the device key: x-lifeline-device, x-lifeline-timestamp, x-lifeline-nonce, x-lifeline-signature (docs/protocol.md).',
        body: SyncRequestSchema,
        response: {
          200: SyncResponseSchema,
          ...SIGNED_ERRORS,
          429: ApiErrorSchema.describe(
            'rate_limited, with Retry-After: this device synced too often; its events stay in its outbox',
          ),
        },
      },
    },
    async (req) => processSync(ctx, req.device!.row, req.device!.nonce, req.body),
  );
}
