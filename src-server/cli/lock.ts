import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A pid file in the data folder that says a server is using this SQLite database, so `restore` can refuse to swap the
 * file under a running server (which would keep writing to the old, unlinked inode). A file left by a crashed server
 * names a dead pid and is taken over.
 */
export const LOCK_FILE = 'server.pid';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function runningServerPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(dataDir, LOCK_FILE), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function acquireServerLock(dataDir: string): () => void {
  const other = runningServerPid(dataDir);
  if (other !== undefined) throw new Error(`another Lifeline server (pid ${other}) is using ${dataDir}`);
  const file = path.join(dataDir, LOCK_FILE);
  writeFileSync(file, `${process.pid}\n`, { mode: 0o600 });
  return () => rmSync(file, { force: true });
}
