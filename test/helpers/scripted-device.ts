import { generateX25519 } from '../../src-shared/crypto/box.js';
import {
  batchHead,
  chainEvent,
  signBatchHead,
  signDeviceRequest,
  signEnrollProof,
} from '../../src-shared/crypto/device-messages.js';
import { randomBytes } from '../../src-shared/crypto/random.js';
import { generateEd25519 } from '../../src-shared/crypto/sign.js';
import type { ServerKey } from '../../src-shared/protocol/common.js';
import { DEVICE_HEADERS } from '../../src-shared/protocol/device-request.js';
import type { HeldState } from '../../src-shared/protocol/login.js';
import {
  GENESIS_HASH,
  type SyncEvent,
  type SyncEventBody,
  type SyncUserState,
} from '../../src-shared/protocol/sync.js';

export interface Reply {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** A reply to a signed request, with the headers it was signed with and their nonce (the server binds its signed answer to it). */
export type SignedReply = Reply & { headers: Record<string, string>; nonce: string };

export type EventInput = SyncEventBody extends infer E
  ? E extends SyncEventBody
    ? Omit<E, 'id' | 'seq'>
    : never
  : never;

/**
 * A scripted workstation for tests and benchmarks: real Ed25519 and X25519 keys, real signatures and a real
 * hash-chained outbox, speaking the agent protocol of src-shared/protocol with the shared signing helpers (the same
 * ones the real agent core uses; the core itself is tested in test/integration/agent). Subclasses choose how a
 * request reaches the server (`post`) and which clock signs it (`now`).
 */
export abstract class ScriptedDevice {
  readonly signing = generateEd25519();
  readonly encryption = generateX25519();
  deviceId = '';
  pinned: ServerKey[] = [];
  private seq = 0;
  private head = GENESIS_HASH;

  constructor(
    readonly hostname: string,
    private readonly agentVersion: string,
  ) {}

  /** Sends one JSON POST to the server and returns its answer, whatever the status. */
  protected abstract post(path: string, body: unknown, headers: Record<string, string>): Promise<Reply>;

  /** Epoch ms for the signature's timestamp (the server refuses a request far from its own time). */
  protected abstract now(): number;

  /** Enrolls with the secret; on success the device has its id and the server keys it pins. */
  async enroll(enrollmentSecret: string): Promise<Reply> {
    const base = {
      v: 1 as const,
      machineIdHash: randomBytes(32).toString('hex'),
      signingPublicKey: this.signing.publicKey,
      encryptionPublicKey: this.encryption.publicKey,
      hostname: this.hostname,
      agentVersion: this.agentVersion,
    };
    const res = await this.post(
      '/api/v1/devices/enroll',
      { ...base, enrollmentSecret, proof: signEnrollProof(this.signing.privateKey, base) },
      {},
    );
    if (res.status === 200) {
      this.deviceId = res.body.deviceId;
      this.pinned = res.body.serverKeys;
    }
    return res;
  }

  /** A signed request; `headers` overrides let tests replay or skew them. */
  async signed(
    path: string,
    body: unknown,
    override: { headers?: Record<string, string>; timestamp?: number } = {},
  ): Promise<SignedReply> {
    const headers =
      override.headers ??
      signDeviceRequest(
        this.signing.privateKey,
        { method: 'POST', path, deviceId: this.deviceId, body },
        override.timestamp ?? this.now(),
      );
    return { ...(await this.post(path, body, headers)), headers, nonce: headers[DEVICE_HEADERS.nonce]! };
  }

  login(
    username: string,
    pin: string | undefined,
    code: string,
    held?: HeldState,
    purpose = 'logon',
  ): Promise<SignedReply> {
    return this.signed('/api/v1/devices/login', {
      v: 1,
      username,
      ...(pin !== undefined ? { pin } : {}),
      code,
      purpose,
      ...(held ? { held } : {}),
    });
  }

  /** Appends an event to this device's outbox chain. */
  event(input: EventInput): SyncEvent {
    const e = chainEvent(this.head, { ...input, id: crypto.randomUUID(), seq: ++this.seq } as SyncEventBody);
    this.head = e.hash;
    return e;
  }

  sync(events: SyncEvent[], users: SyncUserState[] = []): Promise<SignedReply> {
    const head = batchHead(this.deviceId, events);
    return this.signed('/api/v1/devices/sync', {
      v: 1,
      agentVersion: this.agentVersion,
      users,
      events,
      head,
      headSignature: signBatchHead(this.signing.privateKey, head),
    });
  }
}
