import { describe, expect, it } from 'vitest';
import { decryptUserPassword, parsePacket } from '../../../src-server/radius/packet.js';

/** Header of an Access-Request (code 1, identifier 0) with `attributes` and the given Length field. */
function request(attributes: number[], length = 20 + attributes.length): Buffer {
  const b = Buffer.alloc(20 + attributes.length);
  b[0] = 1;
  b.writeUInt16BE(length, 2);
  Buffer.from(attributes).copy(b, 20);
  return b;
}

describe('RADIUS codec', () => {
  it('decrypts User-Password as in the example of RFC 2865 §7.1', () => {
    const secret = Buffer.from('xyzzy5461');
    const authenticator = Buffer.from('0f403f9473978057bd83d5cb98f4227a', 'hex');
    const encrypted = Buffer.from('0dbe708d93d413ce3196e43f782a0aee', 'hex');
    expect(decryptUserPassword(encrypted, secret, authenticator)?.toString()).toBe('arctangent');
  });

  it('refuses User-Password lengths PAP cannot have', () => {
    expect(decryptUserPassword(Buffer.alloc(15), Buffer.from('s'), Buffer.alloc(16))).toBeUndefined();
    expect(decryptUserPassword(Buffer.alloc(144), Buffer.from('s'), Buffer.alloc(16))).toBeUndefined();
  });

  it('parses attributes and finds the Message-Authenticator', () => {
    const packet = parsePacket(request([1, 5, 0x61, 0x62, 0x63, 80, 18, ...new Array(16).fill(7)]));
    expect(packet?.attributes.map((a) => a.type)).toEqual([1, 80]);
    expect(packet?.messageAuthenticatorOffset).toBe(27);
  });

  it('drops malformed packets: truncated, bad attribute length, two Message-Authenticators, wrong-sized one', () => {
    expect(parsePacket(Buffer.alloc(19))).toBeUndefined();
    expect(parsePacket(request([1, 5, 0x61, 0x62, 0x63], 40))).toBeUndefined();
    expect(parsePacket(request([1, 1, 0x61]))).toBeUndefined();
    expect(parsePacket(request([1, 9, 0x61]))).toBeUndefined();
    const ma = [80, 18, ...new Array(16).fill(0)];
    expect(parsePacket(request([...ma, ...ma]))).toBeUndefined();
    expect(parsePacket(request([80, 6, 0, 0, 0, 0]))).toBeUndefined();
  });

  it('ignores octets beyond the Length field (RFC 2865 §3)', () => {
    const padded = Buffer.concat([request([1, 3, 0x61]), Buffer.alloc(10, 0xff)]);
    expect(parsePacket(padded)?.raw.length).toBe(23);
  });
});
