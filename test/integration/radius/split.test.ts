import { describe, expect, it } from 'vitest';
import { readCodeAfterChallenge, readPasscode, type CodeKind } from '../../../src-server/radius/split.js';

const token6: CodeKind = { method: 'token', length: 6, digitsOnly: true, pinNeeded: true };
const token8: CodeKind = { method: 'token', length: 8, digitsOnly: true, pinNeeded: true };
const temporary12: CodeKind = { method: 'temporary', length: 12, digitsOnly: false, pinNeeded: true };
const temporaryNoPin: CodeKind = { ...temporary12, pinNeeded: false };
const emergency: CodeKind = { method: 'emergency', length: 8, digitsOnly: false, pinNeeded: true };

describe('PIN ‖ code split by fixed code lengths', () => {
  it('reads PIN + token code', () => {
    expect(readPasscode('secret1123456', [token6, emergency], 6)).toEqual([{ pin: 'secret1', code: '123456' }]);
  });

  it('keeps separators inside the code and the PIN as typed', () => {
    expect(readPasscode('my pin!7K3M-Q9XD-2B8T', [token6, temporary12], 6)).toEqual([
      { pin: 'my pin!', code: '7K3M-Q9XD-2B8T' },
    ]);
  });

  it('lists both readings of an ambiguous password (the caller makes them one attempt)', () => {
    // PIN "abcdef12" + token "345678", or PIN "abcdef" + emergency code "12345678".
    expect(readPasscode('abcdef12345678', [token6, emergency], 6)).toEqual([
      { pin: 'abcdef12', code: '345678' },
      { pin: 'abcdef', code: '12345678' },
    ]);
  });

  it('merges kinds that read the same way (8-digit token and 8-character emergency code)', () => {
    expect(readPasscode('abcdef12345678', [token8, emergency], 6)).toEqual([{ pin: 'abcdef', code: '12345678' }]);
  });

  it('reads the code alone where the kind needs no PIN, and only then', () => {
    expect(readPasscode('7K3MQ9XD2B8T', [token6, temporaryNoPin], 6)).toEqual([{ code: '7K3MQ9XD2B8T' }]);
    expect(readPasscode('7K3MQ9XD2B8T', [token6, temporary12], 6)).toEqual([]);
  });

  it('finds no code in a PIN alone or a PIN shorter than the policy minimum (challenge)', () => {
    expect(readPasscode('246810', [token6, temporary12, emergency], 6)).toEqual([]);
    expect(readPasscode('12345678', [token6, temporary12, emergency], 6)).toEqual([]);
    expect(readPasscode('', [token6], 6)).toEqual([]);
  });

  it('refuses a code of the wrong alphabet', () => {
    expect(readPasscode('secret1ABCDEF', [token6], 6)).toEqual([]);
    expect(readPasscode('secret1UUUUUUUU', [emergency], 6)).toEqual([]);
  });

  it('after a challenge, gives the stored PIN only to kinds that need one', () => {
    expect(readCodeAfterChallenge('123456', 'pin123', [token6, emergency])).toEqual([
      { pin: 'pin123', code: '123456' },
    ]);
    expect(readCodeAfterChallenge('7K3M-Q9XD-2B8T', 'pin123', [token6, temporaryNoPin])).toEqual([
      { code: '7K3M-Q9XD-2B8T' },
    ]);
    expect(readCodeAfterChallenge('nonsense', 'pin123', [token6, temporary12])).toEqual([]);
  });
});
