import { userInfo } from 'node:os';
import type { AgentApi, IpcRequest, IpcResponseInput } from '../../src-shared/ipc.js';
import type { Agent } from './agent.js';
import { AGENT_VERSION } from './device.js';
import { failureOf } from './status.js';

/**
 * The IPC contract (src-shared/ipc.ts) served by the core: one method per channel, errors as data. Every answer is
 * built from public facts (modes, methods, counts, times); no key, code, PIN or verifier is ever put in one, and
 * the contract's response schemas drop any field they do not name.
 */
export class AgentService implements AgentApi {
  constructor(private readonly agent: Agent) {}

  async config(): Promise<IpcResponseInput<'agent:config'>> {
    const cfg = this.agent.config;
    return {
      ok: true,
      osUsername: safeOsUsername(),
      serverUrl: cfg.serverUrl,
      kiosk: cfg.kiosk,
      version: AGENT_VERSION,
    };
  }

  async login(req: IpcRequest<'agent:login'>): Promise<IpcResponseInput<'agent:login'>> {
    const outcome = await this.agent.login(req);
    return this.agent.status.loginAnswer(outcome);
  }

  async emergencyRequest(
    req: IpcRequest<'agent:emergency-request'>,
  ): Promise<IpcResponseInput<'agent:emergency-request'>> {
    const r = this.agent.emergencyRequest(req.username);
    if (!r.ok) return failureOf(r);
    return { ok: true, username: r.username, request: r.request, slotsLeft: r.slotsLeft };
  }

  async emergencySubmit(
    req: IpcRequest<'agent:emergency-submit'>,
  ): Promise<IpcResponseInput<'agent:emergency-submit'>> {
    return this.agent.status.loginAnswer(await this.agent.emergencySubmit(req));
  }

  async syncNow(): Promise<IpcResponseInput<'agent:sync-now'>> {
    const r = await this.agent.runSync();
    return r.ok
      ? {
          ok: true,
          uploaded: r.uploaded,
          pendingEvents: r.pendingEvents,
          resetsApplied: r.resetsApplied,
          syncedAt: r.syncedAt,
        }
      : { ok: false, error: r.error, message: r.message };
  }

  async resetStore(): Promise<IpcResponseInput<'agent:reset-store'>> {
    const r = await this.agent.resetStore();
    return r.ok ? { ok: true, setAsideTo: r.setAsideTo } : { ok: false, error: r.error, message: r.message };
  }

  async status(): Promise<IpcResponseInput<'agent:status'>> {
    return this.agent.status.status();
  }
}

function safeOsUsername(): string {
  try {
    return userInfo().username;
  } catch {
    return '';
  }
}
