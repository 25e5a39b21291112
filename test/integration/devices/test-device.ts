import { ScriptedDevice, type Reply } from '../../helpers/scripted-device.js';
import type { TestServer } from '../../helpers/server.js';

/** The scripted device of the server tests: fetch to a test server, signing at that server's (manual) time. */
export class TestDevice extends ScriptedDevice {
  /** The headers of the last answer (Retry-After of a refusal). */
  lastHeaders: Headers | undefined;

  /** `server` may be switched to another instance of the same deployment. */
  constructor(
    public server: TestServer,
    hostname = 'ws-test-01',
  ) {
    super(hostname, '0.1.0-test');
  }

  protected override now(): number {
    return this.server.clock.now();
  }

  protected override async post(path: string, body: unknown, headers: Record<string, string>): Promise<Reply> {
    const res = await fetch(this.server.url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    this.lastHeaders = res.headers;
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }
}
