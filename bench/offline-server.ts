/**
 * The server's side of the offline benchmark (issue 3): computing a bundle delta for 7 days of token windows.
 *  1. Window codes: windows per second of bundles.ts `tokenWindowCodes` beside raw node:crypto HMAC-SHA1 over the
 *     same counters in the same run (target ratio ≥ 0.5), for 7 days, 1 day, 1 hour and a 2-window refresh, to
 *     show the cost per window is flat, so a refresh costs in proportion to its new windows.
 *  2. Whole deltas on a real SQLite file: first delivery (7 days of windows, slots provisioned, sealed and signed)
 *     against an incremental refresh two steps later (the agent says what it holds).
 *
 *   npx tsx bench/offline-server.ts        (BENCH_ROUNDS=7 by default: medians of that many runs)
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateX25519 } from '../src-shared/crypto/box.js';
import { signEnrollProof } from '../src-shared/crypto/device-messages.js';
import { generateEd25519 } from '../src-shared/crypto/sign.js';
import { openContext } from '../src-server/bootstrap.js';
import { ManualClock } from '../src-server/clock.js';
import { createLogger } from '../src-server/logger.js';
import { buildBundleDelta, tokenWindowCodes } from '../src-server/services/bundles.js';
import { enrollDevice, enrollmentSecret, findDevice, setDeviceStatus } from '../src-server/services/devices.js';
import { policyForUser } from '../src-server/services/policy.js';
import { createUser, enrollToken, setPin } from '../src-server/services/user-admin.js';
import { findUserByUsername } from '../src-server/services/users.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const WINDOWS_PER_DAY = 2880;
const SIZES: [string, number][] = [
  ['7 days', 7 * WINDOWS_PER_DAY],
  ['1 day', WINDOWS_PER_DAY],
  ['1 hour', 120],
  ['refresh (2 windows)', 2],
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function rawHmacSha1(key: Buffer, from: number, count: number): number {
  const counter = Buffer.alloc(8);
  let x = 0;
  for (let step = from; step < from + count; step++) {
    counter.writeUInt32BE(Math.floor(step / 2 ** 32), 0);
    counter.writeUInt32BE(step >>> 0, 4);
    x ^= createHmac('sha1', key).update(counter).digest()[19]!;
  }
  return x;
}

function timeMs(fn: () => unknown): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

function benchWindows(): void {
  const secret = new Uint8Array(randomBytes(20));
  const key = Buffer.from(secret);
  const start = 59_000_000;
  console.log(`\n[windows] token window codes vs raw node:crypto HMAC-SHA1, median of ${ROUNDS} runs (warm)`);
  tokenWindowCodes({ secret, algorithm: 'SHA1', digits: 6, period: 30 }, start, start + 20_000); // warm-up (JIT)
  rawHmacSha1(key, start, 20_000);
  console.log(
    `${'size'.padEnd(22)} ${'windows'.padStart(7)} ${'ours ms'.padStart(9)} ${'raw ms'.padStart(9)} ${'ours /s'.padStart(10)} ${'raw /s'.padStart(10)} ${'ratio'.padStart(6)} ${'µs/window'.padStart(10)}`,
  );
  for (const [label, n] of SIZES) {
    const ours: number[] = [];
    const raw: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      // Interleaved, so both see the same machine load (2 shared cores).
      ours.push(
        timeMs(() => tokenWindowCodes({ secret, algorithm: 'SHA1', digits: 6, period: 30 }, start, start + n - 1)),
      );
      raw.push(timeMs(() => rawHmacSha1(key, start, n)));
    }
    const o = median(ours);
    const w = median(raw);
    console.log(
      `${label.padEnd(22)} ${String(n).padStart(7)} ${o.toFixed(3).padStart(9)} ${w.toFixed(3).padStart(9)} ${((n / o) * 1000).toFixed(0).padStart(10)} ${((n / w) * 1000).toFixed(0).padStart(10)} ${(w / o).toFixed(2).padStart(6)} ${((o * 1000) / n).toFixed(2).padStart(10)}`,
    );
  }
}

async function benchDeltas(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'lifeline-bench-server-'));
  const clock = new ManualClock(Date.UTC(2026, 10, 23, 9, 0, 10));
  const ctx = await openContext({ dataDir: dir, clock, log: createLogger({ level: 'silent' }) });
  try {
    const actor = { username: 'bench' };
    await createUser(ctx, actor, { username: 'field.user' });
    await setPin(ctx, actor, 'field.user', '246810');
    await enrollToken(ctx, actor, 'field.user', {});
    const signing = generateEd25519();
    const box = generateX25519();
    const unsigned = {
      v: 1 as const,
      machineIdHash: 'a'.repeat(64),
      signingPublicKey: signing.publicKey,
      encryptionPublicKey: box.publicKey,
      hostname: 'bench',
      agentVersion: 'bench',
    };
    const enrolled = await enrollDevice(
      ctx,
      {
        ...unsigned,
        enrollmentSecret: await enrollmentSecret(ctx),
        proof: signEnrollProof(signing.privateKey, unsigned),
      },
      '127.0.0.1',
    );
    if (enrolled.status === 'pending') await setDeviceStatus(ctx, enrolled.deviceId, 'approved', 'bench');
    const device = (await findDevice(ctx.db, enrolled.deviceId))!;
    const user = (await findUserByUsername(ctx.db, 'field.user'))!;
    const policy = await policyForUser(ctx.db, user);

    console.log(
      `\n[deltas] whole bundle deltas on a real SQLite file (windows + slots + seal + sign), median of ${ROUNDS}`,
    );
    const full: number[] = [];
    const incremental: number[] = [];
    let fullBytes = 0;
    let incBytes = 0;
    let fullWindows = 0;
    let incWindows = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const step = Math.floor(clock.now() / 30_000);
      let t = performance.now();
      const first = (await buildBundleDelta(ctx, { device, user, policy, usedStep: step }))!;
      full.push(performance.now() - t);
      fullBytes = JSON.stringify(first).length;
      fullWindows = first.header.windowsTo - first.header.windowsFrom + 1;
      clock.advance(60_000);
      const held = {
        throughStep: first.header.windowsTo,
        tokenGeneration: first.header.tokenGeneration,
        pinGeneration: first.header.pinGeneration,
        slots: [],
      };
      t = performance.now();
      const next = (await buildBundleDelta(ctx, { device, user, policy, usedStep: step + 2, held }))!;
      incremental.push(performance.now() - t);
      incBytes = JSON.stringify(next).length;
      incWindows = next.header.windowsTo - next.header.windowsFrom + 1;
      clock.advance(60_000);
    }
    const f = median(full);
    const i = median(incremental);
    console.log(
      `first delivery         ${String(fullWindows).padStart(6)} windows  ${f.toFixed(1).padStart(8)} ms  ${(fullBytes / 1024).toFixed(0).padStart(5)} KiB  ${((fullWindows / f) * 1000).toFixed(0)} windows/s end to end`,
    );
    console.log(
      `incremental refresh    ${String(incWindows).padStart(6)} windows  ${i.toFixed(1).padStart(8)} ms  ${(incBytes / 1024).toFixed(1).padStart(5)} KiB  (fixed part: one transaction, seal, sign)`,
    );
  } finally {
    await ctx.db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

benchWindows();
await benchDeltas();
