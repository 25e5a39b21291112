import { describe, expect, it } from 'vitest';
import { offlineLockMs } from '../../../src-main/core/user-record.js';
import { computeVerifier, type VerifierInput } from '../../../src-main/core/verifier-hash.js';
import { TEST_SCRYPT } from '../../integration/agent/support.js';

const base: VerifierInput = {
  kind: 'token',
  position: 100,
  username: 'alice',
  deviceId: '0123456789',
  pin: Buffer.from('246810'),
  code: Buffer.from('123456'),
};
const hex = async (over: Partial<VerifierInput>) =>
  (await computeVerifier({ ...base, ...over }, TEST_SCRYPT)).toString('hex');

describe('verifier hashing', () => {
  it('binds PIN, code, window, user, device and kind: changing any one changes the verifier', async () => {
    const reference = await hex({});
    expect(await hex({})).toBe(reference); // deterministic
    const variants = await Promise.all([
      hex({ pin: Buffer.from('246811') }),
      hex({ code: Buffer.from('123457') }),
      hex({ position: 101 }),
      hex({ username: 'alicf' }),
      hex({ deviceId: '0123456788' }),
      hex({ kind: 'temporary' }),
      // Length-prefixing: moving a character from the PIN to the code is another input.
      hex({ pin: Buffer.from('24681'), code: Buffer.from('0123456') }),
    ]);
    for (const v of variants) expect(v).not.toBe(reference);
    expect(new Set(variants).size).toBe(variants.length);
  });

  it('hashes slot codes without the PIN (a user who forgot it can still be let in)', async () => {
    const slot = { ...base, kind: 'slot' as const, code: Buffer.from('7K3MQ9XD2B8T') };
    const withPin = await computeVerifier({ ...slot, pin: Buffer.from('246810') }, TEST_SCRYPT);
    const otherPin = await computeVerifier({ ...slot, pin: Buffer.from('999999') }, TEST_SCRYPT);
    const { pin: _unused, ...noPin } = slot;
    const withoutPin = await computeVerifier(noPin, TEST_SCRYPT);
    expect(withPin.equals(otherPin)).toBe(true);
    expect(withPin.equals(withoutPin)).toBe(true);
  });

  it('locks offline from the third failure, doubling from 30 s up to an hour', () => {
    expect([1, 2, 3, 4, 5, 6].map(offlineLockMs)).toEqual([0, 0, 30_000, 60_000, 120_000, 240_000]);
    expect(offlineLockMs(20)).toBe(60 * 60_000);
  });
});
