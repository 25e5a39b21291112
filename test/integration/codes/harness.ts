import {
  bootstrap,
  createUser,
  enableTemporaryCodes,
  loginAdmin,
  TEST_ADMIN_PASSWORD,
  type AdminHarness,
  type HttpResult,
} from '../../helpers/admin.js';
import { oathtool } from '../../helpers/oathtool.js';
import { startTestServer } from '../../helpers/server.js';

/**
 * A real server on loopback with the bootstrap superadmin signed in, temporary codes enabled for the enterprise and
 * one registered API client, plus the few calls every codes test makes. Every secret a test handles is remembered
 * in `secrets`, so a test can prove that none of them reached the logs, the audit table or the outbox.
 */
export interface CodesHarness extends AdminHarness {
  clientKey: string;
  secrets: Set<string>;
  verify(body: Record<string, unknown>, key?: string | null): Promise<HttpResult>;
  issueTemporary(username: string, body?: Record<string, unknown>): Promise<HttpResult>;
  issueEmergency(username: string, body: Record<string, unknown>): Promise<HttpResult>;
  /** A user with a PIN and an enrolled token (oathtool makes its codes). */
  userWithToken(username: string, pin?: string): Promise<{ username: string; pin: string; totpSecret: string }>;
  /** The current token code of a user, from oathtool at the server's (manual) clock. */
  tokenCode(totpSecret: string, offsetSteps?: number): string;
  /** Moves the clock to the start of the next 30 s step, so the next token code is fresh. */
  nextStep(): void;
  /** Moves the clock on and signs the admin in again (sessions end after 30 idle minutes, assurance after 15). */
  advance(ms: number): Promise<void>;
  close(): Promise<void>;
}

export const DEFAULT_PIN = 'Qz7-pin-93';

export async function startCodesHarness(): Promise<CodesHarness> {
  const server = await startTestServer();
  const h = await bootstrap(server);
  await enableTemporaryCodes(h);
  const client = await h.http('POST', '/api/v1/admin/clients', { name: 'vpn-gateway' });
  if (client.status !== 201)
    throw new Error(`client registration failed: ${client.status} ${JSON.stringify(client.body)}`);
  const secrets = new Set<string>([client.body.key as string, h.adminTotpSecret]);
  const remember = (res: HttpResult): HttpResult => {
    if (typeof res.body?.code === 'string') secrets.add(res.body.code);
    if (Array.isArray(res.body?.codes)) for (const c of res.body.codes as string[]) secrets.add(c);
    return res;
  };
  const harness: CodesHarness = {
    server: h.server,
    adminTotpSecret: h.adminTotpSecret,
    get adminToken() {
      return h.adminToken;
    },
    http: h.http,
    clientKey: client.body.key as string,
    secrets,
    verify: (body, key) =>
      h.http('POST', '/api/v1/verify', body, key === undefined ? (client.body.key as string) : key),
    issueTemporary: async (username, body = {}) =>
      remember(await h.http('POST', `/api/v1/admin/users/${encodeURIComponent(username)}/temporary-code`, body)),
    issueEmergency: async (username, body) =>
      remember(await h.http('POST', `/api/v1/admin/users/${encodeURIComponent(username)}/emergency-codes`, body)),
    async userWithToken(username, pin = DEFAULT_PIN) {
      const u = await createUser(h, username, { pin, withToken: true });
      secrets.add(pin);
      secrets.add(u.totpSecret!);
      return { username, pin, totpSecret: u.totpSecret! };
    },
    tokenCode(totpSecret, offsetSteps = 0) {
      const code = oathtool(totpSecret, server.clock.now() + offsetSteps * 30_000);
      secrets.add(code);
      return code;
    },
    nextStep() {
      server.clock.set((Math.floor(server.clock.now() / 30_000) + 1) * 30_000 + 1_000);
    },
    async advance(ms) {
      server.clock.advance(ms);
      h.adminToken = await loginAdmin(h, 'admin', TEST_ADMIN_PASSWORD, h.adminTotpSecret);
    },
    close: () => server.close(),
  };
  return harness;
}

/**
 * Secrets that appear anywhere in the server's log lines or in the audit and notifications tables. Digit-only
 * secrets (token codes) only count as a whole word, so a timestamp or a hex hash that happens to contain the six
 * digits is not a hit.
 */
export async function leakedSecrets(h: CodesHarness): Promise<string[]> {
  const audit = await h.server.ctx.db.all('SELECT * FROM audit');
  const outbox = await h.server.ctx.db.all('SELECT * FROM notifications');
  const haystack = [h.server.logLines.join('\n'), JSON.stringify(audit), JSON.stringify(outbox)].join('\n');
  const variants = (s: string) => [s, s.replace(/-/g, '')];
  return [...h.secrets].filter((s) =>
    variants(s).some((v) =>
      /^[0-9]+$/.test(v) ? new RegExp(`(?<![0-9A-Za-z])${v}(?![0-9A-Za-z])`).test(haystack) : haystack.includes(v),
    ),
  );
}
