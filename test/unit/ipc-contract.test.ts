import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { LifelineError } from '../../src-shared/errors.js';
import { dispatchIpc, IPC_CHANNELS, IPC_CONTRACT, type AgentApi, type IpcChannel } from '../../src-shared/ipc.js';
import { buildRendererApi } from '../../src-main/preload/api.js';

/**
 * The IPC contract at the door both shells share. The core here is a recording stand-in: the point of these tests
 * is what never reaches the core and what never leaves it.
 */

const VALID: Record<IpcChannel, unknown> = {
  'agent:config': {},
  'agent:status': {},
  'agent:login': { username: 'alice', pin: '123456', code: '123456' },
  'agent:emergency-request': { username: 'alice' },
  'agent:emergency-submit': { username: 'alice', code: 'ABCD-EFGH-JKMN' },
  'agent:sync-now': {},
  'agent:reset-store': {},
};

const JUNK: unknown[] = [
  undefined,
  null,
  0,
  'agent:login',
  [],
  [{ username: 'alice' }],
  { __proto__: { username: 'alice' } },
  { username: 'alice', pin: '123456', code: '123456', extra: 'field' },
  { username: 1, pin: 2, code: 3 },
  { username: '', pin: '', code: '' },
  { username: 'a'.repeat(10_000), pin: 'p', code: 'c' },
  { username: 'alice', pin: '123456', code: '123456', purpose: 'root' },
];

const SECRET_FIELD =
  /^(pin|pins|code|codes|key|keys|privatekey|datakey|secret|secrets|seed|seeds|verifier|verifiers|password|token|tokens|otp)$/i;

function recordingCore(answer: (method: string) => unknown = () => ({ ok: false, error: 'internal', message: 'n/a' })) {
  const reached: string[] = [];
  const api = Object.fromEntries(
    Object.values(IPC_CONTRACT).map(({ method }) => [method, async () => (reached.push(method), answer(method))]),
  ) as unknown as AgentApi;
  return { api, reached };
}

/** Every object key a response schema can ever produce, however deeply nested. */
function fieldNames(schema: z.ZodType, seen = new Set<string>()): Set<string> {
  if (schema instanceof z.ZodObject) {
    for (const [key, child] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
      seen.add(key);
      fieldNames(child, seen);
    }
  } else if (schema instanceof z.ZodUnion) {
    for (const option of schema.options as z.ZodType[]) fieldNames(option, seen);
  } else if (schema instanceof z.ZodArray) {
    fieldNames(schema.element as z.ZodType, seen);
  } else if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable || schema instanceof z.ZodDefault) {
    fieldNames(schema.unwrap() as z.ZodType, seen);
  }
  return seen;
}

describe('IPC contract', () => {
  it('maps every channel to its own method', () => {
    const methods = Object.values(IPC_CONTRACT).map((e) => e.method);
    expect(new Set(methods).size).toBe(IPC_CHANNELS.length);
    expect(IPC_CHANNELS.every((c) => c.startsWith('agent:'))).toBe(true);
  });

  it('accepts a well-formed request on every channel and passes it to the core', async () => {
    for (const channel of IPC_CHANNELS) {
      const { api, reached } = recordingCore();
      await dispatchIpc(api, channel, VALID[channel]);
      expect(reached, channel).toEqual([IPC_CONTRACT[channel].method]);
    }
  });

  it('refuses junk payloads on every channel before the core sees them', async () => {
    const { api, reached } = recordingCore();
    for (const channel of IPC_CHANNELS) {
      for (const junk of JUNK) {
        // Empty requests are fine for channels that take nothing: only junk for that channel counts.
        if (IPC_CONTRACT[channel].request.safeParse(junk).success) continue;
        const answer = await dispatchIpc(api, channel, junk);
        expect(answer, `${channel} ${JSON.stringify(junk)}`).toMatchObject({ ok: false, error: 'validation_failed' });
      }
      expect(await dispatchIpc(api, channel, { ...(VALID[channel] as object), injected: 1 })).toMatchObject({
        ok: false,
        error: 'validation_failed',
      });
    }
    expect(reached).toEqual([]);
  });

  it('refuses unknown channels, including prototype names', async () => {
    const { api, reached } = recordingCore();
    for (const channel of ['agent:shell', '__proto__', 'constructor', 'toString', 'agent:login ']) {
      expect(await dispatchIpc(api, channel, {})).toMatchObject({ ok: false, error: 'not_found' });
    }
    expect(reached).toEqual([]);
  });

  it('has no response field that could carry a key, code, PIN, seed or verifier', () => {
    for (const channel of IPC_CHANNELS) {
      const names = [...fieldNames(IPC_CONTRACT[channel].response)];
      expect(names.length, channel).toBeGreaterThan(2);
      expect(
        names.filter((n) => SECRET_FIELD.test(n)),
        channel,
      ).toEqual([]);
    }
  });

  it('drops whatever secret a core puts in an answer by mistake', async () => {
    const leaky: AgentApi = {
      config: async () =>
        ({
          ok: true,
          osUsername: 'a',
          serverUrl: 'u',
          kiosk: false,
          version: '1',
          enrollmentSecret: 's3cr3t',
        }) as never,
      status: async () => ({ ok: false, error: 'internal', message: 'x', dataKey: 'k3y' }) as never,
      login: async () =>
        ({
          ok: true,
          mode: 'offline',
          method: 'token',
          username: 'a',
          verifier: 'v',
          pin: '123456',
          code: '654321',
        }) as never,
      emergencyRequest: async () =>
        ({ ok: true, username: 'a', request: 'R', slotsLeft: 1, slotCode: 'ABCDEFGHJKMN' }) as never,
      emergencySubmit: async () => ({ ok: false, error: 'invalid_code', message: 'x', seed: 'JBSWY3DP' }) as never,
      syncNow: async () =>
        ({ ok: true, uploaded: 0, pendingEvents: 0, resetsApplied: 0, syncedAt: 1, devicePrivateKey: 'k' }) as never,
      resetStore: async () => ({ ok: true, setAsideTo: null, dataKey: 'k3y' }) as never,
    };
    for (const channel of IPC_CHANNELS) {
      const text = JSON.stringify(await dispatchIpc(leaky, channel, VALID[channel]));
      expect(text, channel).not.toMatch(/s3cr3t|k3y|"v"|123456|654321|ABCDEFGHJKMN|JBSWY3DP|privateKey|verifier|seed/);
    }
  });

  it('turns a throwing core into a stable code without forwarding its message; a LifelineError keeps its code', async () => {
    const throwing = recordingCore();
    throwing.api.login = async () => {
      throw new Error('scrypt failed for PIN 123456');
    };
    const answer = await dispatchIpc(throwing.api, 'agent:login', VALID['agent:login']);
    expect(answer).toMatchObject({ ok: false, error: 'internal' });
    expect(JSON.stringify(answer)).not.toContain('123456');
    throwing.api.login = async () => {
      throw new LifelineError('locked', 'Locked.', 423, { retryAfterSeconds: 60 });
    };
    expect(await dispatchIpc(throwing.api, 'agent:login', VALID['agent:login'])).toEqual({
      ok: false,
      error: 'locked',
      message: 'Locked.',
      retryAfterSeconds: 60,
    });
  });

  it('gives the renderer exactly the contract methods and nothing that reads state by other means', () => {
    const api = buildRendererApi(async () => ({ ok: true }));
    expect(Object.keys(api).sort()).toEqual(
      Object.values(IPC_CONTRACT)
        .map((e) => e.method)
        .sort(),
    );
    for (const value of Object.values(api)) expect(typeof value).toBe('function');
    expect(() => Object.assign(api, { readKey: () => 'x' })).toThrow();
  });
});
