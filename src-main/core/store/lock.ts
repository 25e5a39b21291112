import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';

/**
 * One agent core per store: a lock file holding the owner's pid, created exclusively. A lock left by a process that
 * no longer exists (a crash, a SIGKILL) is taken over; a live owner makes the second core refuse to start.
 */
export class StoreLock {
  private constructor(private readonly file: string) {}

  static acquire(file: string): StoreLock {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(file, 'wx', 0o600);
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return new StoreLock(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const owner = Number.parseInt(readOwner(file), 10);
        if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) {
          throw new Error(`the store is in use by another agent core (pid ${owner})`);
        }
        rmSync(file, { force: true }); // stale: its owner is gone
      }
    }
    throw new Error('could not take the store lock');
  }

  release(): void {
    if (readOwner(this.file) === String(process.pid)) rmSync(this.file, { force: true });
  }
}

function readOwner(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}
