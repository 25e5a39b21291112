import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startNotificationDelivery } from '../../../src-server/services/notifier.js';
import { bootstrap, createUser, type AdminHarness } from '../../helpers/admin.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

/** A minimal SMTP receiver (RFC 5321 happy path, no STARTTLS) that keeps every message it is given. */
function smtpSink(): Promise<{ server: Server; port: number; messages: string[] }> {
  const messages: string[] = [];
  const server = createServer((socket) => {
    let inData = false;
    let buffer = '';
    socket.write('220 sink ESMTP\r\n');
    socket.on('data', (chunk) => {
      buffer += String(chunk);
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) return;
          messages.push(buffer.slice(0, end));
          buffer = buffer.slice(end + 5);
          inData = false;
          socket.write('250 queued\r\n');
          continue;
        }
        const nl = buffer.indexOf('\r\n');
        if (nl < 0) return;
        const line = buffer.slice(0, nl).toUpperCase();
        buffer = buffer.slice(nl + 2);
        if (line.startsWith('EHLO') || line.startsWith('HELO')) socket.write('250-sink\r\n250 8BITMIME\r\n');
        else if (line.startsWith('DATA')) {
          inData = true;
          socket.write('354 go ahead\r\n');
        } else if (line.startsWith('QUIT')) socket.end('221 bye\r\n');
        else socket.write('250 ok\r\n');
      }
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port, messages })),
  );
}

let server: TestServer;
let h: AdminHarness;
let sink: Awaited<ReturnType<typeof smtpSink>>;

beforeEach(async () => {
  server = await startTestServer();
  h = await bootstrap(server);
  sink = await smtpSink();
});
afterEach(async () => {
  await server.close();
  sink.server.close();
});

describe('notifier', () => {
  it('writes the outbox in the transaction and, with SMTP configured, mails users who have an address (never the secret)', async () => {
    const delivery = startNotificationDelivery(server.ctx, {
      smtpUrl: `smtp://127.0.0.1:${sink.port}`,
      from: 'lifeline@example.com',
      intervalMs: 60_000,
    });
    try {
      const pin = '620415';
      const mona = await createUser(h, 'mona', { email: 'mona@example.com', pin, withToken: true });
      await createUser(h, 'ned', { pin: '777333' }); // no address: stays in the outbox
      // Delivery is asynchronous: flush until both of mona's messages reached the sink (bounded, never a fixed sleep).
      for (const deadline = Date.now() + 30_000; sink.messages.length < 2 && Date.now() < deadline;) {
        await delivery.flush();
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(sink.messages).toHaveLength(2);
      const all = sink.messages.join('\n');
      expect(all).toContain('To: mona@example.com');
      expect(all).toContain('Subject: Your PIN was set or changed');
      expect(all).toContain('Subject: A new authenticator was enrolled for your account');
      expect(all).not.toContain(pin);
      expect(all).not.toContain(mona.totpSecret!);
      const rows = await server.ctx.db.all<{ username: string; kind: string; sent_at: number | null }>(
        'SELECT username, kind, sent_at FROM notifications ORDER BY id',
      );
      expect(rows.map((r) => [r.username, r.kind, r.sent_at !== null])).toEqual([
        ['mona', 'pin-set', true],
        ['mona', 'token-enrolled', true],
        ['ned', 'pin-set', false],
      ]);
    } finally {
      delivery.stop();
    }
  });

  it('a refused enrollment notifies no one', async () => {
    await createUser(h, 'olga', { email: 'olga@example.com' });
    await h.http('PATCH', '/api/v1/admin/settings', { policies: { contractors: { enrollmentAllowed: false } } });
    await h.http('PATCH', '/api/v1/admin/users/olga', { policy: 'contractors' });
    expect((await h.http('POST', '/api/v1/admin/users/olga/token', {})).status).toBe(403);
    expect(await server.ctx.db.all("SELECT * FROM notifications WHERE username = 'olga'")).toEqual([]);
  });
});
