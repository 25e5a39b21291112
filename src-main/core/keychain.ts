import { execFile } from 'node:child_process';
import { AsyncEntry, type EntryOptions } from '@napi-rs/keyring';
import { LifelineError } from '../../src-shared/errors.js';
import type { Keychain } from './ports.js';

const KEYCHAIN_TIMEOUT_MS = 5_000;

/**
 * The OS keychain through @napi-rs/keyring (Windows Credential Manager, macOS Keychain, Linux Secret Service).
 *
 * On Linux the library would fall back silently to the kernel keyring (which does not survive a reboot and is not
 * what IT configured) and its getPassword returns null on errors as on absence. So entries are pinned to the
 * Secret Service (an unavailable store then throws instead of falling back), and `probe` asks D-Bus explicitly
 * whether anyone owns org.freedesktop.secrets before the agent trusts the keychain with anything.
 */
export class OsKeychain implements Keychain {
  private readonly options: EntryOptions | undefined =
    process.platform === 'linux' ? { linux: { store: 'secret-service' } } : undefined;

  /** `service` namespaces the entries (one agent install per user session; tests use a fresh one each). */
  constructor(readonly service: string) {}

  async probe(): Promise<void> {
    if (process.platform === 'linux') await probeSecretService();
    // A round trip proves the store can be written and read back (a locked collection fails here, not later).
    const entry = this.entry('probe');
    const marker = `probe-${Date.now()}`;
    try {
      await entry.setPassword(marker, AbortSignal.timeout(KEYCHAIN_TIMEOUT_MS));
      const back = await entry.getPassword(AbortSignal.timeout(KEYCHAIN_TIMEOUT_MS));
      await entry.deletePassword(AbortSignal.timeout(KEYCHAIN_TIMEOUT_MS));
      if (back !== marker) throw new Error('read back a different value');
    } catch (err) {
      throw unavailable(`the OS keychain did not store a test entry (${describe(err)})`);
    }
  }

  async get(name: string): Promise<string | null> {
    try {
      return await this.entry(name).getPassword(AbortSignal.timeout(KEYCHAIN_TIMEOUT_MS));
    } catch (err) {
      throw unavailable(`the OS keychain could not be read (${describe(err)})`);
    }
  }

  async set(name: string, value: string): Promise<void> {
    try {
      await this.entry(name).setPassword(value, AbortSignal.timeout(KEYCHAIN_TIMEOUT_MS));
    } catch (err) {
      throw unavailable(`the OS keychain could not be written (${describe(err)})`);
    }
  }

  async delete(name: string): Promise<boolean> {
    try {
      return await this.entry(name).deletePassword(AbortSignal.timeout(KEYCHAIN_TIMEOUT_MS));
    } catch (err) {
      throw unavailable(`the OS keychain entry could not be deleted (${describe(err)})`);
    }
  }

  private entry(name: string): AsyncEntry {
    return new AsyncEntry(this.service, name, this.options);
  }
}

/** Asks the session bus whether a Secret Service (gnome-keyring, KWallet's bridge, KeePassXC) owns its name. */
export async function probeSecretService(): Promise<void> {
  if (!process.env.DBUS_SESSION_BUS_ADDRESS)
    throw unavailable('no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set), so no Secret Service');
  const args = [
    '--session',
    '--dest=org.freedesktop.DBus',
    '--print-reply',
    '/org/freedesktop/DBus',
    'org.freedesktop.DBus.NameHasOwner',
    'string:org.freedesktop.secrets',
  ];
  const reply = await new Promise<string>((resolve, reject) =>
    execFile('dbus-send', args, { timeout: KEYCHAIN_TIMEOUT_MS }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    ),
  ).catch((err: unknown) => {
    throw unavailable(`the session bus did not answer (${describe(err)})`);
  });
  if (!/boolean true/.test(reply))
    throw unavailable(
      'no Secret Service (org.freedesktop.secrets) on the session bus; install or unlock gnome-keyring',
    );
}

function unavailable(reason: string): LifelineError {
  return new LifelineError(
    'keychain_unavailable',
    `Offline mode is off: ${reason}. The agent never keeps its key on disk.`,
    503,
  );
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0]!.slice(0, 160) : 'unknown error';
}
