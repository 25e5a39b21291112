import { generateX25519 } from '../../../src-shared/crypto/box.js';
import { batchHead, chainEvent, signBatchHead, signDeviceRequest, signEnrollProof } from '../../../src-shared/crypto/device-messages.js';
import { randomBytes } from '../../../src-shared/crypto/random.js';
import { generateEd25519 } from '../../../src-shared/crypto/sign.js';
import type { ServerKey } from '../../../src-shared/protocol/common.js';
import type { HeldState } from '../../../src-shared/protocol/login.js';
import { GENESIS_HASH, type SyncEvent, type SyncEventBody, type SyncUserState } from '../../../src-shared/protocol/sync.js';
import type { TestServer } from '../../helpers/server.js';

export interface Reply {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

type EventInput = SyncEventBody extends infer E ? (E extends SyncEventBody ? Omit<E, 'id' | 'seq'> : never) : never;

/**
 * A minimal agent for server tests: real keys, real signatures and a real hash-chained outbox, speaking the
 * protocol of src-shared/protocol over HTTP. (The real agent core is tested in test/integration/agent.)
 */
export class TestDevice {
  readonly signing = generateEd25519();
  readonly encryption = generateX25519();
  deviceId = '';
  pinned: ServerKey[] = [];
  private seq = 0;
  private head = GENESIS_HASH;

  /** `server` may be switched to another instance of the same deployment. */
  constructor(public server: TestServer, readonly hostname = 'ws-test-01') {}

  async enroll(enrollmentSecret: string): Promise<Reply> {
    const base = {
      v: 1 as const,
      machineIdHash: randomBytes(32).toString('hex'),
      signingPublicKey: this.signing.publicKey,
      encryptionPublicKey: this.encryption.publicKey,
      hostname: this.hostname,
      agentVersion: '0.1.0-test',
    };
    const res = await this.post('/api/v1/devices/enroll', { ...base, enrollmentSecret, proof: signEnrollProof(this.signing.privateKey, base) }, {});
    if (res.status === 200) {
      this.deviceId = res.body.deviceId;
      this.pinned = res.body.serverKeys;
    }
    return res;
  }

  /** A signed request; `headers` overrides let tests replay or skew them. */
  async signed(path: string, body: unknown, override: { headers?: Record<string, string>; timestamp?: number } = {}): Promise<Reply & { headers: Record<string, string> }> {
    const headers = override.headers ?? signDeviceRequest(this.signing.privateKey, { method: 'POST', path, deviceId: this.deviceId, body }, override.timestamp ?? this.server.clock.now());
    return { ...(await this.post(path, body, headers)), headers };
  }

  login(username: string, pin: string | undefined, code: string, held?: HeldState, purpose = 'logon'): Promise<Reply & { headers: Record<string, string> }> {
    return this.signed('/api/v1/devices/login', { v: 1, username, ...(pin !== undefined ? { pin } : {}), code, purpose, ...(held ? { held } : {}) });
  }

  /** Appends an event to this device's outbox chain. */
  event(input: EventInput): SyncEvent {
    const e = chainEvent(this.head, { ...input, id: crypto.randomUUID(), seq: ++this.seq } as SyncEventBody);
    this.head = e.hash;
    return e;
  }

  sync(events: SyncEvent[], users: SyncUserState[] = []): Promise<Reply & { headers: Record<string, string> }> {
    const head = batchHead(this.deviceId, events);
    return this.signed('/api/v1/devices/sync', { v: 1, agentVersion: '0.1.0-test', users, events, head, headSignature: signBatchHead(this.signing.privateKey, head) });
  }

  private async post(path: string, body: unknown, headers: Record<string, string>): Promise<Reply> {
    const res = await fetch(this.server.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }
}
