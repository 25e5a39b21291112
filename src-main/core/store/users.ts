import { UserRecordSchema, type UserRecord } from '../user-record.js';
import type { AgentStore } from './store.js';

/** The per-user records (sealed in `users`), read back through UserRecordSchema so every caller gets a whole record. */
export class UserRepo {
  constructor(private readonly store: AgentStore) {}

  /** Opaque, stable reference for a username: rows are keyed by it, never by the name. */
  ref(username: string): string {
    return this.store.userRef(username);
  }

  get(ref: string): UserRecord | undefined {
    return this.store.getUser(ref, UserRecordSchema);
  }

  /** Call inside `store.commit`. */
  put(ref: string, record: UserRecord): void {
    this.store.putUser(ref, record);
  }

  /** Call inside `store.commit`: the record and every verifier of the user go. */
  remove(ref: string): void {
    this.store.deleteUser(ref);
  }

  refs(): string[] {
    return this.store.listUserRefs();
  }
}
