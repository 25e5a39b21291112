import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import {
  nextTotp,
  startAdminServer,
  TEST_ADMIN_PASSWORD,
  type AdminHarness,
  type HttpResult,
} from '../../helpers/admin.js';
import type { TestServer } from '../../helpers/server.js';
import { useHarness } from '../../helpers/hooks.js';
import { LOGIN_LIMITS } from '../../../src-server/services/admin-login.js';

let server: TestServer;
let h: AdminHarness;
useHarness('each', startAdminServer, (started) => {
  h = started;
  server = started.server;
});

/**
 * A sign-in sent from a chosen loopback address (Linux routes all of 127.0.0.0/8 to lo), so the server sees
 * distinct client addresses over real TCP without trusting any proxy header.
 */
function signInFrom(address: string, body: { username: string; password: string; otp: string }): Promise<HttpResult> {
  const { hostname, port } = new URL(server.url);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: hostname,
        port,
        localAddress: address,
        method: 'POST',
        path: '/api/v1/admin/sessions',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined, headers });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const wrong = { username: 'admin', password: 'not the password', otp: '000000' };

describe('sign-in throttling per admin name cannot lock the owner out', () => {
  it('after 12 wrong passwords from one address, the owner signs in from another address at once', async () => {
    const attacker = '127.0.0.2';
    const answers: number[] = [];
    for (let i = 0; i < 12; i++) answers.push((await signInFrom(attacker, wrong)).status);
    // The attacker's address is held back for this name; its first attempts were answered as wrong credentials.
    expect(answers.slice(0, LOGIN_LIMITS.perAdminAddress)).toEqual(Array(LOGIN_LIMITS.perAdminAddress).fill(401));
    expect(answers.slice(LOGIN_LIMITS.perAdminAddress)).toEqual(Array(12 - LOGIN_LIMITS.perAdminAddress).fill(429));
    const owner = await signInFrom('127.0.0.3', {
      username: 'admin',
      password: TEST_ADMIN_PASSWORD,
      otp: nextTotp(server, h.adminTotpSecret),
    });
    expect(owner.status).toBe(200);
    expect(owner.body.token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
  });

  it('failures spread over many addresses get a Retry-After that grows and is capped; the owner still gets in after it', async () => {
    let next = 10;
    const from = () => `127.0.1.${next++}`;
    for (let i = 0; i < LOGIN_LIMITS.perAdminBackoff.free; i++)
      expect((await signInFrom(from(), wrong)).status).toBe(401);
    const waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      const refused = await signInFrom(from(), wrong);
      expect(refused.status).toBe(429);
      expect(refused.body.error).toBe('rate_limited');
      const wait = Number(refused.headers.get('retry-after'));
      expect(refused.body.retryAfterSeconds).toBe(wait);
      waits.push(wait);
      server.clock.advance(wait * 1000);
      expect((await signInFrom(from(), wrong)).status).toBe(401);
    }
    const capSeconds = LOGIN_LIMITS.perAdminBackoff.capMs / 1000;
    expect(waits).toEqual([1, 2, 4, 8, 16, 32, 64, 128].map((w) => Math.min(w, capSeconds)));
    expect(waits.at(-1)).toBe(capSeconds);
    // The owner, from yet another address, waits at most the cap and is in.
    const otp = nextTotp(server, h.adminTotpSecret);
    let owner = await signInFrom('127.0.0.4', { username: 'admin', password: TEST_ADMIN_PASSWORD, otp });
    if (owner.status === 429) {
      expect(Number(owner.headers.get('retry-after'))).toBeLessThanOrEqual(capSeconds);
      server.clock.advance(Number(owner.headers.get('retry-after')) * 1000);
      owner = await signInFrom('127.0.0.4', {
        username: 'admin',
        password: TEST_ADMIN_PASSWORD,
        otp: nextTotp(server, h.adminTotpSecret),
      });
    }
    expect(owner.status).toBe(200);
    // A successful sign-in ends the run of failures: the next wrong attempt is not delayed.
    expect((await signInFrom(from(), wrong)).status).toBe(401);
  });

  it('the growing delay holds under concurrency: a burst from many addresses gets exactly the free attempts', async () => {
    const free = LOGIN_LIMITS.perAdminBackoff.free;
    const results = await Promise.all(
      Array.from({ length: free + 5 }, (_, i) => signInFrom(`127.0.3.${i + 1}`, wrong)),
    );
    expect(results.filter((r) => r.status === 401)).toHaveLength(free);
    expect(results.filter((r) => r.status === 429)).toHaveLength(5);
  });

  it('a live session steps up while sign-ins under its name are being failed; step-up has its own per-session limit', async () => {
    for (let i = 0; i < 12; i++) await signInFrom(`127.0.2.${i + 1}`, wrong);
    for (let i = 0; i < 12; i++) await signInFrom('127.0.0.2', wrong);
    server.clock.advance(16 * 60 * 1000);
    for (let i = 0; i < 12; i++) await signInFrom('127.0.0.2', wrong);
    const up = await h.http('POST', '/api/v1/admin/sessions/step-up', { otp: nextTotp(server, h.adminTotpSecret) });
    expect(up.status).toBe(200);
    // Wrong step-up codes are limited per session.
    const answers: number[] = [];
    for (let i = 0; i <= LOGIN_LIMITS.stepUpPerSession; i++)
      answers.push((await h.http('POST', '/api/v1/admin/sessions/step-up', { otp: '000000' })).status);
    expect(answers.slice(0, LOGIN_LIMITS.stepUpPerSession)).toEqual(Array(LOGIN_LIMITS.stepUpPerSession).fill(401));
    expect(answers[LOGIN_LIMITS.stepUpPerSession]).toBe(429);
    // ... and only that session: the owner's fresh sign-in and its step-up are not affected.
    const other = await signInFrom('127.0.0.5', {
      username: 'admin',
      password: TEST_ADMIN_PASSWORD,
      otp: nextTotp(server, h.adminTotpSecret),
    });
    expect(other.status).toBe(200);
    server.clock.advance(16 * 60 * 1000 - 60_000);
    const otherUp = await h.http(
      'POST',
      '/api/v1/admin/sessions/step-up',
      { otp: nextTotp(server, h.adminTotpSecret) },
      other.body.token,
    );
    expect(otherUp.status).toBe(200);
  });
});
