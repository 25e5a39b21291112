import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * One agent core per store: a lock file naming its owner (pid and a random nonce), which always appears whole
 * (written to a private file, then hard-linked into place: link(2) fails if the lock exists, like O_EXCL).
 *
 * A lock whose owner is gone (a crash, a SIGKILL, a reboot) is taken over. "Gone" is more than "no such pid":
 * after a reboot or in a container the pid in a stale lock often belongs to another live process, so on Linux
 * a pid whose process started after the lock was written cannot be its writer and the lock counts as stale.
 *
 * Taking over is atomic: a taker first creates `<lock>.takeover` exclusively (link(2) again), then checks that
 * the lock is still the stale one it judged, and only then renames its own file over it. Two processes that
 * both judged the same lock stale cannot both get past the guard with it unchanged: the second finds the first's
 * live lock and refuses (test/integration/agent/damaged-store.test.ts races real processes).
 */
export class StoreLock {
  private constructor(
    private readonly file: string,
    private readonly content: string,
  ) {}

  /** Takes the lock; throws a StoreBusy naming the owner's pid when a live owner holds it. */
  static async acquire(file: string): Promise<StoreLock> {
    const nonce = randomBytes(16).toString('hex');
    const content = JSON.stringify({ pid: process.pid, nonce });
    const mine = `${file}.${nonce}`;
    writeFileSync(mine, content, { mode: 0o600, flag: 'wx' });
    try {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        if (tryLink(mine, file)) return new StoreLock(file, content);
        const seen = readLock(file);
        if (!seen) continue; // released meanwhile: try again
        if (ownerLives(seen)) throw new StoreBusy(seen.pid);
        if (await takeOver(file, mine, seen)) return new StoreLock(file, content);
        await sleep(RETRY_MS);
      }
      throw new Error('could not take the store lock: it keeps changing hands');
    } finally {
      rmSync(mine, { force: true });
    }
  }

  release(): void {
    if (readLock(this.file)?.raw === this.content) rmSync(this.file, { force: true });
  }
}

/** The lock is held by a live process; `pid` names it for the message. */
export class StoreBusy extends Error {
  constructor(readonly pid: number) {
    super(`the store is in use by another agent core (pid ${pid})`);
  }
}

const MAX_ATTEMPTS = 100;
const RETRY_MS = 20;
/** A takeover takes milliseconds; a guard older than this was left by a taker that died in between. */
const GUARD_STALE_MS = 10_000;

interface SeenLock {
  raw: string;
  pid: number;
  mtimeMs: number;
}

function tryLink(from: string, to: string): boolean {
  try {
    linkSync(from, to);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/** The lock as found: JSON from this version, a bare pid from older agents; unreadable content names pid 0. */
function readLock(file: string): SeenLock | null {
  try {
    const raw = readFileSync(file, 'utf8');
    const { mtimeMs } = statSync(file);
    let pid = Number.NaN;
    try {
      pid = Number((JSON.parse(raw) as { pid?: unknown }).pid);
    } catch {
      pid = Number.parseInt(raw.trim(), 10);
    }
    return { raw, pid: Number.isSafeInteger(pid) && pid > 0 ? pid : 0, mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

async function takeOver(file: string, mine: string, seen: SeenLock): Promise<boolean> {
  const guard = `${file}.takeover`;
  if (!tryLink(mine, guard)) {
    clearAbandonedGuard(guard);
    return false;
  }
  try {
    const now = readLock(file);
    // Changed (someone else took it first) or gone (released: linking, not renaming, is the way in then).
    if (!now || now.raw !== seen.raw || now.mtimeMs !== seen.mtimeMs) return false;
    renameSync(mine, file);
    return true;
  } finally {
    rmSync(guard, { force: true });
  }
}

function clearAbandonedGuard(guard: string): void {
  try {
    if (Date.now() - statSync(guard).mtimeMs > GUARD_STALE_MS) rmSync(guard, { force: true });
  } catch {
    // gone already
  }
}

function ownerLives(seen: SeenLock): boolean {
  if (seen.pid === 0 || !pidExists(seen.pid)) return false;
  const started = processStartMs(seen.pid);
  // A process that started after the lock was written did not write it (2 s covers the rounding of boot time).
  return started === null || started <= seen.mtimeMs + 2_000;
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/**
 * When a process started, from /proc on Linux (boot time plus its start in clock ticks; USER_HZ is 100 on every
 * Linux ABI). Elsewhere null: the pid alone decides, as it did before.
 */
function processStartMs(pid: number): number | null {
  if (process.platform !== 'linux') return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]); // field 22, starttime; fields after the command name start at field 3
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    return Number.isFinite(ticks) && Number.isFinite(btime) ? btime * 1000 + (ticks / 100) * 1000 : null;
  } catch {
    return null;
  }
}
