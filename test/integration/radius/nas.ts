import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';

/**
 * A NAS written for the tests from RFC 2865 §3/§5.2 and RFC 3579 §3.2, independent of src-server/radius: it builds
 * signed PAP Access-Requests byte by byte and sends the very same bytes wherever a test wants (to one instance and
 * then another, or to both at once), from ONE source port, as a retransmitting NAS behind a balancer does.
 */
export function accessRequest(o: {
  identifier: number;
  secret: string;
  username: string;
  password: string;
  state?: Buffer;
}): Buffer {
  const authenticator = randomBytes(16);
  const secret = Buffer.from(o.secret);
  const attributes = [
    attribute(1, Buffer.from(o.username, 'utf8')),
    attribute(2, papEncrypt(Buffer.from(o.password, 'utf8'), secret, authenticator)),
    ...(o.state ? [attribute(24, o.state)] : []),
    attribute(80, Buffer.alloc(16)),
  ];
  const body = Buffer.concat(attributes);
  const packet = Buffer.alloc(20 + body.length);
  packet[0] = 1;
  packet[1] = o.identifier;
  packet.writeUInt16BE(packet.length, 2);
  authenticator.copy(packet, 4);
  body.copy(packet, 20);
  const maValue = packet.length - 16; // Message-Authenticator is the last attribute
  createHmac('md5', secret).update(packet).digest().copy(packet, maValue);
  return packet;
}

/** RFC 2865 §3: the Response Authenticator a NAS checks, MD5(Code+ID+Length+RequestAuth+Attributes+Secret). */
export function hasValidResponseAuthenticator(response: Buffer, request: Buffer, secret: string): boolean {
  const copy = Buffer.from(response);
  request.copy(copy, 4, 4, 20);
  const expected = createHash('md5').update(copy).update(secret).digest();
  return expected.equals(response.subarray(4, 20));
}

/** Attribute values of one type in a RADIUS packet. */
export function attributeValues(packet: Buffer, type: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 20; at + 2 <= packet.readUInt16BE(2); at += packet[at + 1]!) {
    if (packet[at] === type) out.push(packet.subarray(at + 2, at + packet[at + 1]!));
  }
  return out;
}

export interface TestNas {
  port: number;
  send(packet: Buffer, serverPort: number): void;
  /** The next answer from `serverPort`, or undefined after `timeoutMs`. */
  answer(serverPort: number, timeoutMs?: number): Promise<Buffer | undefined>;
  close(): void;
}

export async function startTestNas(): Promise<TestNas> {
  const socket: Socket = createSocket('udp4');
  const queued = new Map<number, Buffer[]>();
  const waiting = new Map<number, (b: Buffer) => void>();
  socket.on('message', (msg, from) => {
    const waiter = waiting.get(from.port);
    if (waiter) {
      waiting.delete(from.port);
      waiter(msg);
    } else {
      queued.set(from.port, [...(queued.get(from.port) ?? []), msg]);
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    send: (packet, serverPort) => socket.send(packet, serverPort, '127.0.0.1'),
    answer(serverPort, timeoutMs = 15_000) {
      const early = queued.get(serverPort)?.shift();
      if (early) return Promise.resolve(early);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiting.delete(serverPort);
          resolve(undefined);
        }, timeoutMs);
        waiting.set(serverPort, (msg) => {
          clearTimeout(timer);
          resolve(msg);
        });
      });
    },
    close: () => socket.close(),
  };
}

function attribute(type: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type, value.length + 2]), value]);
}

/** RFC 2865 §5.2: padded to 16-byte blocks, c1 = p1 xor MD5(S + RA), ci = pi xor MD5(S + c(i-1)). */
function papEncrypt(password: Buffer, secret: Buffer, authenticator: Buffer): Buffer {
  const padded = Buffer.alloc(Math.max(16, Math.ceil(password.length / 16) * 16));
  password.copy(padded);
  const out = Buffer.alloc(padded.length);
  let previous = authenticator;
  for (let block = 0; block < padded.length; block += 16) {
    const b = createHash('md5').update(secret).update(previous).digest();
    for (let i = 0; i < 16; i++) out[block + i] = padded[block + i]! ^ b[i]!;
    previous = out.subarray(block, block + 16);
  }
  return out;
}
