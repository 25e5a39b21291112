import { DeviceStateRepo } from './device-state.js';
import type { AgentStore } from './store.js';
import { UserRepo } from './users.js';
import { VerifierRepo } from './verifiers.js';

/** An open store with the typed repositories over it; `store` stays for `commit` (every write goes inside one). */
export interface Repositories {
  store: AgentStore;
  users: UserRepo;
  verifiers: VerifierRepo;
  state: DeviceStateRepo;
}

export function repositories(store: AgentStore): Repositories {
  return { store, users: new UserRepo(store), verifiers: new VerifierRepo(store), state: new DeviceStateRepo(store) };
}
