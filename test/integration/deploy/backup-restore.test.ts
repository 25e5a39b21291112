import { execFile } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DB_FILE, KEY_FILE } from '../../../src-server/bootstrap.js';
import { bootstrap } from '../../helpers/admin.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { tempDir } from '../../helpers/tmp.js';

const run = promisify(execFile);
const cliEntry = path.resolve('src-server/main.ts');
const tsx = path.resolve('node_modules/tsx/dist/cli.mjs');
const serverCli = (...args: string[]) => run(process.execPath, [tsx, cliEntry, ...args], { encoding: 'utf8' });

let server: TestServer | undefined;
let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir('lifeline-backup-');
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  tmp.cleanup();
});

describe('backup and restore (SQLite)', () => {
  it('a backup taken under write load restores every row committed before it started, with an intact audit chain', async () => {
    server = await startTestServer({ engine: 'sqlite' });
    const h = await bootstrap(server);

    // Writers keep creating users (each one a committed row plus an audit row) while the backup runs.
    const acknowledged: { username: string; at: number }[] = [];
    let writing = true;
    let n = 0;
    const writer = async () => {
      while (writing) {
        const username = `load-${n++}`;
        const res = await h.http('POST', '/api/v1/admin/users', { username });
        expect(res.status).toBe(201);
        acknowledged.push({ username, at: performance.now() });
      }
    };
    const writers = [writer(), writer(), writer(), writer()];
    while (acknowledged.length < 40) await new Promise((r) => setTimeout(r, 10));

    const backupFile = path.join(tmp.dir, 'backup.sqlite');
    const backupStarted = performance.now();
    const { stdout } = await serverCli('backup', backupFile, '--data', server.dataDir);
    expect(stdout).toMatch(/Backed up/);
    writing = false;
    await Promise.all(writers);
    const committedBefore = acknowledged.filter((a) => a.at < backupStarted).map((a) => a.username);
    expect(committedBefore.length).toBeGreaterThanOrEqual(40);
    expect(acknowledged.length).toBeGreaterThan(committedBefore.length); // writes really went on during the backup

    // Restore into a fresh data folder beside the key file the database was made with.
    const restored = path.join(tmp.dir, 'restored');
    const out = await serverCli('restore', backupFile, '--data', restored);
    expect(out.stdout).toMatch(/Restored/);
    copyFileSync(path.join(server.dataDir, KEY_FILE), path.join(restored, KEY_FILE));

    const db = new Database(path.join(restored, DB_FILE), { readonly: true });
    const names = new Set(
      (db.prepare('SELECT username FROM users').all() as { username: string }[]).map((r) => r.username),
    );
    db.close();
    const missing = committedBefore.filter((u) => !names.has(u));
    expect(missing).toEqual([]);

    const verify = await serverCli('audit', 'verify', '--data', restored);
    expect(verify.stdout).toMatch(/ok|intact|verified/i);
  });

  it('restore refuses a file that is not a Lifeline backup and keeps the current database', async () => {
    const notABackup = path.join(tmp.dir, 'junk.sqlite');
    const junk = new Database(notABackup);
    junk.exec('CREATE TABLE t (x)');
    junk.close();
    const dataDir = path.join(tmp.dir, 'd');
    mkdirSync(dataDir);
    writeFileSync(path.join(dataDir, DB_FILE), 'current database');
    const err = await serverCli('restore', notABackup, '--data', dataDir).catch(
      (e: { code: number; stdout: string }) => e,
    );
    expect((err as { code: number }).code).toBe(1);
    expect((err as { stdout: string }).stdout).toMatch(/not a Lifeline database backup/);
    expect(readFileSync(path.join(dataDir, DB_FILE), 'utf8')).toBe('current database');
  });
});
