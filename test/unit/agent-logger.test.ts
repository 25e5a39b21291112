import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgentLogger, LOG_FILE_NAME } from '../../src-main/core/logger.js';

/** The agent's log file on a real file system: level, censoring, mode, and the bound on its size. */

const dirs: string[] = [];
function logDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'lifeline-agent-log-'));
  dirs.push(dir);
  return path.join(dir, 'logs');
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const lines = (file: string) =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    : [];

describe('agent logger', () => {
  it('writes structured lines at the configured level to a 0600 file', () => {
    const dir = logDir();
    const log = createAgentLogger({ dir, level: 'warn', console: false });
    log.info('[http] server unreachable', { path: '/x' });
    log.warn('[store] keychain entries without a store');
    log.error('[verifiers] building offline data failed', { reason: 'x' });
    log.close();
    const file = path.join(dir, LOG_FILE_NAME);
    expect(lines(file).map((l) => [l.level, l.msg])).toEqual([
      [40, '[store] keychain entries without a store'],
      [50, '[verifiers] building offline data failed'],
    ]);
    if (process.platform !== 'win32') expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("censors secret fields and bodies with the server's paths, and keeps an error code readable", () => {
    const dir = logDir();
    const log = createAgentLogger({ dir, level: 'info', console: false });
    log.warn("[http] the server's TLS certificate is not trusted", { path: '/api', code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    log.warn('[test] secrets', { pin: '246810', key: 'k3y', token: 't0k', verifier: 'v3r', seed: 's33d' });
    (log.warn as (m: string, f: unknown) => void)('[test] a body', { body: { code: '123456' } });
    log.close();
    const text = readFileSync(path.join(dir, LOG_FILE_NAME), 'utf8');
    for (const secret of ['246810', 'k3y', 't0k', 'v3r', 's33d', '123456']) expect(text).not.toContain(secret);
    expect(lines(path.join(dir, LOG_FILE_NAME))[0]).toMatchObject({ code: 'SELF_SIGNED_CERT_IN_CHAIN' });
  });

  it('rolls over at the size bound and keeps two older files', () => {
    const dir = logDir();
    const log = createAgentLogger({ dir, level: 'info', console: false, maxBytes: 2_000 });
    for (let i = 0; i < 200; i++) log.info('[test] line', { i, filler: 'x'.repeat(40) });
    log.close();
    const file = path.join(dir, LOG_FILE_NAME);
    for (const f of [file, `${file}.1`, `${file}.2`]) expect(statSync(f).size).toBeLessThanOrEqual(2_000);
    expect(existsSync(`${file}.3`)).toBe(false);
    // The newest line is in agent.log, and the files follow each other without a gap.
    const all = [...lines(`${file}.2`), ...lines(`${file}.1`), ...lines(file)].map((l) => l.i as number);
    expect(all.at(-1)).toBe(199);
    expect(all).toEqual(all.map((_, k) => all[0]! + k));
  });

  it('appends to the file a previous run left, within the same bound', () => {
    const dir = logDir();
    const first = createAgentLogger({ dir, level: 'info', console: false, maxBytes: 2_000 });
    first.info('[test] first run');
    first.close();
    const second = createAgentLogger({ dir, level: 'info', console: false, maxBytes: 2_000 });
    second.info('[test] second run');
    second.close();
    expect(lines(path.join(dir, LOG_FILE_NAME)).map((l) => l.msg)).toEqual(['[test] first run', '[test] second run']);
  });
});
