/**
 * A real agent core in its own process, for the SIGKILL test: it logs in once (offline), prints the answer as
 * one JSON line, and then waits to be killed. Inputs come from the environment.
 */
import { createAgent } from '../../../src-main/core/agent.js';
import { OsKeychain } from '../../../src-main/core/keychain.js';
import { ManualClock } from '../../../src-main/core/ports.js';
import { agentDeps } from './support.js';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};

const core = await createAgent(
  agentDeps(env('AGENT_DATA_DIR'), new OsKeychain(env('AGENT_KEYCHAIN_SERVICE')), {
    clock: new ManualClock(Number(env('AGENT_NOW'))),
  }),
);
const result = await core.login({
  username: 'alice',
  pin: env('AGENT_PIN'),
  code: env('AGENT_CODE'),
  purpose: 'logon',
});
process.stdout.write(`${JSON.stringify({ ok: result.ok, mode: result.ok ? result.mode : null })}\n`);
setInterval(() => undefined, 60_000);
