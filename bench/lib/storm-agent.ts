import http from 'node:http';
import { ScriptedDevice, type Reply } from '../../test/helpers/scripted-device.js';
import { requestJson } from './storm-http.js';

export type { SignedReply } from '../../test/helpers/scripted-device.js';

/**
 * One simulated workstation of the storm: the scripted device of the tests (its own keys, a real hash-chained outbox,
 * the agent protocol) with its own loopback source address and keep-alive connection, signing at the real time.
 * `pickServer` chooses the instance per request, as a load balancer would.
 */
export class StormAgent extends ScriptedDevice {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  constructor(
    hostname: string,
    readonly localAddress: string,
    private readonly pickServer: () => string,
  ) {
    super(hostname, '0.1.0-storm');
  }

  /** Enrolls or throws: a storm with a workstation that failed to enroll would measure nothing. */
  override async enroll(enrollmentSecret: string): Promise<Reply> {
    const res = await super.enroll(enrollmentSecret);
    if (res.status !== 200)
      throw new Error(
        `enroll of ${this.hostname} from ${this.localAddress}: ${res.status} ${JSON.stringify(res.body)}`,
      );
    return res;
  }

  close(): void {
    this.agent.destroy();
  }

  protected override now(): number {
    return Date.now();
  }

  protected override post(path: string, body: unknown, headers: Record<string, string>): Promise<Reply> {
    return requestJson({
      method: 'POST',
      url: this.pickServer() + path,
      body,
      headers,
      localAddress: this.localAddress,
      agent: this.agent,
    });
  }
}
