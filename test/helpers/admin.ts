import { ensureBootstrapAdmin } from '../../src-server/services/admins.js';
import { newTotpSecret } from '../../src-server/services/totp.js';
import { oathtool } from './oathtool.js';
import { startTestServer, type TestServer } from './server.js';

export const TEST_ADMIN_PASSWORD = 'correct horse battery staple';

export interface HttpResult {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  headers: Headers;
}

export type Http = (method: string, path: string, body?: unknown, token?: string | null) => Promise<HttpResult>;

export interface AdminHarness {
  server: TestServer;
  adminToken: string;
  adminTotpSecret: string;
  /** Real HTTP to the test server; `token` defaults to the bootstrap admin's, `null` sends none. */
  http: Http;
}

function makeHttp(server: TestServer, defaultToken: () => string | undefined): Http {
  return async (method, path, body, token) => {
    const bearer = token === null ? undefined : (token ?? defaultToken());
    const headers: Record<string, string> = {};
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(server.url + path, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON: keep the text */
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
}

/**
 * Moves the test clock to the start of the next TOTP step and returns the code for it: every admin TOTP step is
 * accepted once, so each login or step-up in a test needs a step of its own.
 */
export function nextTotp(server: TestServer, secret: string): string {
  server.clock.set((Math.floor(server.clock.now() / 30_000) + 1) * 30_000 + 1_000);
  return oathtool(secret, server.clock.now());
}

/** Signs in over HTTP (password + oathtool code of a fresh step) and returns the bearer token. */
export async function loginAdmin(
  h: Pick<AdminHarness, 'server' | 'http'>,
  username: string,
  password: string,
  totpSecret: string,
): Promise<string> {
  const res = await h.http(
    'POST',
    '/api/v1/admin/sessions',
    { username, password, otp: nextTotp(h.server, totpSecret) },
    null,
  );
  if (res.status !== 200) throw new Error(`login of ${username} failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.token as string;
}

/** Creates the bootstrap superadmin `admin` (as a first start does) and signs it in. */
export async function bootstrap(server: TestServer): Promise<AdminHarness> {
  const adminTotpSecret = newTotpSecret();
  const made = await ensureBootstrapAdmin(server.ctx, { password: TEST_ADMIN_PASSWORD, totpSecret: adminTotpSecret });
  if (!made.created) throw new Error('bootstrap: an admin exists already');
  const h: AdminHarness = { server, adminToken: '', adminTotpSecret, http: makeHttp(server, () => h.adminToken) };
  h.adminToken = await loginAdmin(h, 'admin', TEST_ADMIN_PASSWORD, adminTotpSecret);
  return h;
}

/** A fresh test server with the bootstrap admin signed in; the server is closed again if the sign-in fails. */
export async function startAdminServer(): Promise<AdminHarness> {
  const server = await startTestServer();
  try {
    return await bootstrap(server);
  } catch (err) {
    await server.close();
    throw err;
  }
}

/** Renews high assurance of the bootstrap admin's session (after the test clock moved past 15 minutes). */
export async function stepUp(h: AdminHarness, token = h.adminToken, totpSecret = h.adminTotpSecret): Promise<void> {
  const res = await h.http('POST', '/api/v1/admin/sessions/step-up', { otp: nextTotp(h.server, totpSecret) }, token);
  if (res.status !== 200) throw new Error(`step-up failed: ${res.status} ${JSON.stringify(res.body)}`);
}

function expectOk(what: string, res: HttpResult): void {
  if (res.status < 200 || res.status >= 300)
    throw new Error(`${what} failed: ${res.status} ${JSON.stringify(res.body)}`);
}

/** The base32 secret inside an otpauth:// URI. */
export function secretFromUri(uri: string): string {
  const secret = new URL(uri).searchParams.get('secret');
  if (!secret) throw new Error('otpauth URI without a secret');
  return secret;
}

/** Creates a user through the admin API, optionally with a PIN, a named policy and an enrolled TOTP token. */
export async function createUser(
  h: AdminHarness,
  username: string,
  opts: { pin?: string; policy?: string; withToken?: boolean; email?: string } = {},
): Promise<{ username: string; totpSecret?: string }> {
  expectOk(
    'create user',
    await h.http('POST', '/api/v1/admin/users', {
      username,
      ...(opts.policy ? { policy: opts.policy } : {}),
      ...(opts.email ? { email: opts.email } : {}),
    }),
  );
  if (opts.pin !== undefined)
    expectOk(
      'set PIN',
      await h.http('PUT', `/api/v1/admin/users/${encodeURIComponent(username)}/pin`, { pin: opts.pin }),
    );
  if (!opts.withToken) return { username };
  const res = await h.http('POST', `/api/v1/admin/users/${encodeURIComponent(username)}/token`, {});
  expectOk('enroll token', res);
  return { username, totpSecret: secretFromUri(res.body.otpauthUri as string) };
}

/** Turns temporary codes on for the enterprise (off by default, docs/design.md §3). */
export async function enableTemporaryCodes(h: AdminHarness): Promise<void> {
  expectOk(
    'enable temporary codes',
    await h.http('PATCH', '/api/v1/admin/settings', { settings: { temporaryCodesEnabled: true } }),
  );
}

/** Creates another admin through the API and signs it in. */
export async function createAdminAndLogin(
  h: AdminHarness,
  username: string,
  roles: string[],
): Promise<{ token: string; totpSecret: string; password: string }> {
  const password = `pw-${username}-0123456789`;
  const res = await h.http('POST', '/api/v1/admin/admins', { username, password, roles });
  expectOk('create admin', res);
  const totpSecret = res.body.totpSecret as string;
  return { token: await loginAdmin(h, username, password, totpSecret), totpSecret, password };
}
