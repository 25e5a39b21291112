/**
 * One of several processes racing for stale store locks (damaged-store.test.ts): at each round's start time it
 * tries to take `<dir>/lock-<round>`, prints whether it got it, and keeps what it got until told to exit, so the
 * winner stays a live owner for the others. Inputs come from the environment.
 */
import path from 'node:path';
import { StoreLock } from '../../../src-main/core/store/lock.js';

const dir = process.env.RACE_DIR!;
const rounds = Number(process.env.RACE_ROUNDS);
const startAt = Number(process.env.RACE_START_AT);
const spacingMs = Number(process.env.RACE_SPACING_MS);

const results: { round: number; acquired: boolean; error?: string }[] = [];
const held: unknown[] = [];
for (let round = 0; round < rounds; round++) {
  const wait = startAt + round * spacingMs - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  try {
    held.push(await StoreLock.acquire(path.join(dir, `lock-${round}`)));
    results.push({ round, acquired: true });
  } catch (err) {
    results.push({ round, acquired: false, error: (err as Error).message.slice(0, 80) });
  }
}
process.stdout.write(`${JSON.stringify(results)}\n`);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
