import http from 'node:http';
import { generateX25519 } from '../../src-shared/crypto/box.js';
import { batchHead, chainEvent, signBatchHead, signDeviceRequest, signEnrollProof } from '../../src-shared/crypto/device-messages.js';
import { randomBytes } from '../../src-shared/crypto/random.js';
import { generateEd25519 } from '../../src-shared/crypto/sign.js';
import type { ServerKey } from '../../src-shared/protocol/common.js';
import { DEVICE_HEADERS } from '../../src-shared/protocol/device-request.js';
import { GENESIS_HASH, type SyncEvent, type SyncEventBody, type SyncUserState } from '../../src-shared/protocol/sync.js';
import { requestJson, type JsonReply } from './storm-http.js';

type EventInput = SyncEventBody extends infer E ? (E extends SyncEventBody ? Omit<E, 'id' | 'seq'> : never) : never;

/** A reply to a signed request, with the nonce it was signed with (the server binds its signed answer to it). */
export type SignedReply = JsonReply & { nonce: string };

/**
 * One simulated workstation of the storm: its own Ed25519 and X25519 keys, its own loopback source address and
 * keep-alive connection, and a real hash-chained outbox; it speaks the agent protocol of src-shared/protocol with the
 * shared signing helpers (the same ones the real agent core uses). `pickServer` chooses the instance per request, as a
 * load balancer would.
 */
export class StormAgent {
  readonly signing = generateEd25519();
  readonly encryption = generateX25519();
  deviceId = '';
  pinned: ServerKey[] = [];
  private seq = 0;
  private head = GENESIS_HASH;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  constructor(
    readonly hostname: string,
    readonly localAddress: string,
    private readonly pickServer: () => string,
  ) {}

  async enroll(enrollmentSecret: string): Promise<void> {
    const base = {
      v: 1 as const,
      machineIdHash: randomBytes(32).toString('hex'),
      signingPublicKey: this.signing.publicKey,
      encryptionPublicKey: this.encryption.publicKey,
      hostname: this.hostname,
      agentVersion: '0.1.0-storm',
    };
    const res = await this.post('/api/v1/devices/enroll', { ...base, enrollmentSecret, proof: signEnrollProof(this.signing.privateKey, base) }, {});
    if (res.status !== 200) throw new Error(`enroll of ${this.hostname} from ${this.localAddress}: ${res.status} ${JSON.stringify(res.body)}`);
    this.deviceId = res.body.deviceId as string;
    this.pinned = res.body.serverKeys as ServerKey[];
  }

  login(username: string, pin: string, code: string): Promise<SignedReply> {
    return this.signed('/api/v1/devices/login', { v: 1, username, pin, code, purpose: 'logon' });
  }

  /** Appends an event to the outbox chain. */
  event(input: EventInput): SyncEvent {
    const e = chainEvent(this.head, { ...input, id: crypto.randomUUID(), seq: ++this.seq } as SyncEventBody);
    this.head = e.hash;
    return e;
  }

  sync(events: SyncEvent[], users: SyncUserState[]): Promise<SignedReply> {
    const head = batchHead(this.deviceId, events);
    return this.signed('/api/v1/devices/sync', { v: 1, agentVersion: '0.1.0-storm', users, events, head, headSignature: signBatchHead(this.signing.privateKey, head) });
  }

  close(): void {
    this.agent.destroy();
  }

  private async signed(path: string, body: unknown): Promise<SignedReply> {
    const headers = signDeviceRequest(this.signing.privateKey, { method: 'POST', path, deviceId: this.deviceId, body }, Date.now());
    return { ...(await this.post(path, body, headers)), nonce: headers[DEVICE_HEADERS.nonce]! };
  }

  private post(path: string, body: unknown, headers: Record<string, string>): Promise<JsonReply> {
    return requestJson({ method: 'POST', url: this.pickServer() + path, body, headers, localAddress: this.localAddress, agent: this.agent });
  }
}
