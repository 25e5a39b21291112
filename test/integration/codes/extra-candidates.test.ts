import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../helpers/admin.js';
import {
  verifyCode,
  type ExtraCandidate,
  type ExtraCandidateSource,
} from '../../../src-server/services/verification.js';
import { DEFAULT_PIN, startCodesHarness, type CodesHarness } from './harness.js';

/**
 * The verifyCode hook other modules use to add a code kind (devices/login: an offline emergency code online): the
 * candidate is compared like the others, consumed inside the verification's transaction, and audited.
 */
let h: CodesHarness;

beforeAll(async () => {
  h = await startCodesHarness();
  await createUser(h, 'olga', { pin: DEFAULT_PIN });
});
afterAll(async () => {
  await h?.close();
});

function slotSource(plain: string, state: { used: boolean; consumeCalls: number }): ExtraCandidateSource {
  return async () => [
    {
      method: 'offline-emergency',
      secret: { kind: 'plain', value: Buffer.from(plain) },
      pinRequired: false,
      purposes: ['logon', 'unlock'],
      consume: async () => {
        state.consumeCalls++;
        if (state.used) return false;
        state.used = true;
        return true;
      },
      auditDetails: { slot: 3 },
    } satisfies ExtraCandidate,
  ];
}

describe('verifyCode extraCandidates hook', () => {
  it('accepts a matching extra code once, without the PIN, normalised; honours its purposes; audits the details', async () => {
    const state = { used: false, consumeCalls: 0 };
    const base = {
      username: 'olga',
      channel: { kind: 'device' as const, id: 'dev-1' },
      device: 'dev-1',
      extraCandidates: slotSource('7K3MQ9XD2B8T', state),
    };

    const sign = await verifyCode(h.server.ctx, { ...base, code: '7k3m-q9xd-2b8t', purpose: 'sign' });
    expect(sign).toEqual({ ok: false, error: 'purpose_not_allowed' });
    expect(state.consumeCalls).toBe(0);

    const ok = await verifyCode(h.server.ctx, { ...base, code: '7k3m-q9xd-2b8t', purpose: 'unlock' });
    expect(ok.ok && ok.method).toBe('offline-emergency');
    const again = await verifyCode(h.server.ctx, { ...base, code: '7K3MQ9XD2B8T', purpose: 'unlock' });
    expect(again).toEqual({ ok: false, error: 'invalid_code' });
    expect(state.consumeCalls).toBe(2);

    const wrong = await verifyCode(h.server.ctx, {
      ...base,
      extraCandidates: slotSource('7K3MQ9XD2B8T', { used: false, consumeCalls: 0 }),
      code: '7K3MQ9XD2B8V',
      purpose: 'unlock',
    });
    expect(wrong).toEqual({ ok: false, error: 'invalid_code' });

    const rows = await h.server.ctx.db.all<{
      outcome: string;
      method: string | null;
      reason: string | null;
      device: string;
      details: string;
    }>(
      "SELECT outcome, method, reason, device, details FROM audit WHERE subject = 'olga' AND type = 'verify.attempt' ORDER BY id",
    );
    expect(rows.map((r) => [r.outcome, r.method, r.reason])).toEqual([
      ['failure', 'offline-emergency', 'purpose_not_allowed'],
      ['success', 'offline-emergency', null],
      ['failure', 'offline-emergency', 'already_used'],
      ['failure', null, 'wrong_pin_or_code'],
    ]);
    expect(JSON.parse(rows[1]!.details)).toEqual({ slot: 3 });
    expect(rows.every((r) => r.device === 'dev-1')).toBe(true);
  });
});
