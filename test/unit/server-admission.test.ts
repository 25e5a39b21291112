import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseCli, resolveAdmissionLimits, UsageError } from '../../src-server/cli/args.js';
import { AdmissionGate, defaultAdmissionLimits, withinConnections } from '../../src-server/services/admission.js';
import { createLogger } from '../../src-server/logger.js';

function gate(limits = { maxInFlight: 2, maxWaiting: 2, maxWaitMs: 200 }) {
  const lines: string[] = [];
  const log = createLogger({
    level: 'info',
    destination: new Writable({
      write(c, _e, cb) {
        lines.push(String(c));
        cb();
      },
    }),
  });
  return { gate: new AdmissionGate(limits, log), lines };
}

describe('AdmissionGate', () => {
  it('admits up to maxInFlight, queues up to maxWaiting, sheds the rest at once, and hands a freed place to the longest waiter', async () => {
    const { gate: g } = gate();
    const a = (await g.enter())!;
    const b = (await g.enter())!;
    const order: string[] = [];
    const c = g.enter().then((r) => (order.push('c'), r));
    const d = g.enter().then((r) => (order.push('d'), r));
    expect(await g.enter()).toBeNull(); // two in flight, two waiting: full
    expect(g.stats()).toMatchObject({ inFlight: 2, waiting: 2, admitted: 2, shed: { queueFull: 1, waitedTooLong: 0 } });
    a();
    a(); // a second release gives nothing back twice
    const cr = await c;
    expect(cr).toBeTypeOf('function');
    expect(g.stats()).toMatchObject({ inFlight: 2, waiting: 1, admitted: 3 });
    b();
    expect(await d).toBeTypeOf('function');
    expect(order).toEqual(['c', 'd']);
    cr!();
    (await d)!();
    expect(g.stats()).toMatchObject({ inFlight: 0, waiting: 0, admitted: 4 });
  });

  it('a newcomer does not overtake the queue: with a waiter present it waits too', async () => {
    const { gate: g } = gate({ maxInFlight: 1, maxWaiting: 2, maxWaitMs: 1_000 });
    const first = (await g.enter())!;
    const waiter = g.enter();
    first();
    const newcomer = g.enter(); // the place went to `waiter` synchronously, so this one queues
    expect(g.stats()).toMatchObject({ inFlight: 1, waiting: 1 });
    (await waiter)!();
    (await newcomer)!();
    expect(g.stats()).toMatchObject({ inFlight: 0, waiting: 0, admitted: 3 });
  });

  it('sheds a waiter after maxWaitMs, and logs sheds at most once a second with their count', async () => {
    const { gate: g, lines } = gate({ maxInFlight: 1, maxWaiting: 5, maxWaitMs: 50 });
    const hold = (await g.enter())!;
    const started = performance.now();
    const waits = await Promise.all([g.enter(), g.enter(), g.enter()]);
    expect(waits).toEqual([null, null, null]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    expect(g.stats()).toMatchObject({ inFlight: 1, waiting: 0, shed: { queueFull: 0, waitedTooLong: 3 } });
    hold();
    expect(lines).toHaveLength(1); // three sheds within a second: one line
    expect(JSON.parse(lines[0]!)).toMatchObject({
      component: 'admission',
      shed: 1,
      reason: 'waitedTooLong',
      msg: 'verifications shed: the instance is at its limit',
    });
  });

  it('a waiter whose client went away leaves the queue without a place and is not counted as shed', async () => {
    const { gate: g } = gate({ maxInFlight: 1, maxWaiting: 2, maxWaitMs: 1_000 });
    const hold = (await g.enter())!;
    const gone = new AbortController();
    const waiting = g.enter(gone.signal);
    expect(g.stats().waiting).toBe(1);
    gone.abort();
    expect(await waiting).toBeNull();
    expect(await g.enter(gone.signal)).toBeNull(); // gone before it came
    hold();
    expect(g.stats()).toMatchObject({ inFlight: 0, waiting: 0, admitted: 1, shed: { queueFull: 0, waitedTooLong: 0 } });
  });

  it('with maxWaiting 0 or maxWaitMs 0 nothing waits', async () => {
    for (const limits of [
      { maxInFlight: 1, maxWaiting: 0, maxWaitMs: 500 },
      { maxInFlight: 1, maxWaiting: 3, maxWaitMs: 0 },
    ]) {
      const { gate: g } = gate(limits);
      const hold = (await g.enter())!;
      expect(await g.enter()).toBeNull();
      expect(g.stats().shed.queueFull).toBe(1);
      hold();
    }
  });

  it("tells a shed client to come back after the queue's horizon, at least one second", () => {
    expect(gate({ maxInFlight: 1, maxWaiting: 1, maxWaitMs: 400 }).gate.retryAfterSeconds).toBe(1);
    expect(gate({ maxInFlight: 1, maxWaiting: 1, maxWaitMs: 2_500 }).gate.retryAfterSeconds).toBe(3);
  });
});

describe("admission limits: flags over environment over the machine's defaults", () => {
  it('admits no more verifications at once than the database pool has connections', () => {
    const limits = { maxInFlight: 8, maxWaiting: 32, maxWaitMs: 1000 };
    expect(withinConnections(limits, 2)).toEqual({ maxInFlight: 2, maxWaiting: 32, maxWaitMs: 1000 });
    expect(withinConnections(limits, 10)).toEqual(limits);
    expect(withinConnections(limits, undefined)).toEqual(limits); // SQLite: no pool
  });

  it('derives the defaults from the threadpool size', () => {
    expect(defaultAdmissionLimits()).toEqual({ maxInFlight: 8, maxWaiting: 32, maxWaitMs: 1_000 });
    expect(resolveAdmissionLimits({}, {})).toEqual(defaultAdmissionLimits());
    expect(resolveAdmissionLimits({}, { UV_THREADPOOL_SIZE: '16' })).toEqual({
      maxInFlight: 32,
      maxWaiting: 128,
      maxWaitMs: 1_000,
    });
  });

  it('takes LIFELINE_VERIFY_* from the environment and the --verify-* flags over them', () => {
    const env = { LIFELINE_VERIFY_CONCURRENCY: '3', LIFELINE_VERIFY_QUEUE: '0', LIFELINE_VERIFY_QUEUE_WAIT_MS: '' };
    expect(resolveAdmissionLimits({}, env)).toEqual({ maxInFlight: 3, maxWaiting: 0, maxWaitMs: 1_000 });
    const cli = parseCli(['--verify-concurrency', '5', '--verify-queue-wait', '1500']);
    expect(cli.admission).toEqual({ maxInFlight: 5, maxWaitMs: 1_500 });
    expect(resolveAdmissionLimits(cli.admission, env)).toEqual({ maxInFlight: 5, maxWaiting: 0, maxWaitMs: 1_500 });
    expect(parseCli([]).admission).toEqual({});
  });

  it('refuses nonsense with one clear message', () => {
    expect(() => parseCli(['--verify-concurrency', '0'])).toThrow(UsageError);
    expect(() => parseCli(['--verify-queue', 'many'])).toThrow(/--verify-queue/);
    expect(() => parseCli(['--verify-queue-wait', '-1'])).toThrow(/--verify-queue-wait/);
    expect(() => resolveAdmissionLimits({}, { LIFELINE_VERIFY_CONCURRENCY: 'lots' })).toThrow(
      /LIFELINE_VERIFY_CONCURRENCY/,
    );
    expect(() => resolveAdmissionLimits({}, { UV_THREADPOOL_SIZE: '0' })).toThrow(/UV_THREADPOOL_SIZE/);
  });
});
