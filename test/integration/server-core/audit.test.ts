import Database from 'better-sqlite3';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkpointFile, verifyAudit, writeCheckpoint } from '../../../src-server/services/audit-checkpoint.js';
import { appendAudit } from '../../../src-server/services/audit.js';
import { createAdminAndLogin, createUser, startAdminServer, type AdminHarness } from '../../helpers/admin.js';
import { defaultTestEngine } from '../../helpers/engines.js';
import type { TestServer } from '../../helpers/server.js';
import { useHarness } from '../../helpers/hooks.js';

let server: TestServer;
let h: AdminHarness;
useHarness('each', startAdminServer, (started) => {
  h = started;
  server = started.server;
});

/**
 * A direct edit of the database, as an intruder with access to it would make: through better-sqlite3 on the SQLite
 * file, through SQL on PostgreSQL (LIFELINE_TEST_ENGINE=postgres).
 */
async function tamper(sql: string, ...params: (string | number | null)[]): Promise<number> {
  if (server.engine !== 'sqlite') return (await server.ctx.db.run(sql, params)).changes;
  const raw = new Database(path.join(server.dataDir, 'lifeline.sqlite'));
  try {
    return raw.prepare(sql).run(...params).changes;
  } finally {
    raw.close();
  }
}

/** On PostgreSQL the sealer chains rows shortly after they commit; SQLite chains them as they are inserted. */
async function sealed(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const n = await server.ctx.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM audit WHERE hash IS NULL');
    if (Number(n?.n) === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('audit rows stayed unsealed');
}

const verify = () => verifyAudit(server.ctx.db, server.ctx.audit, server.ctx.keys.allSigningKeys, server.dataDir);

async function someEvents(n: number): Promise<void> {
  for (let i = 0; i < n; i++)
    await appendAudit(server.ctx.db, server.ctx, {
      type: 'test.event',
      outcome: 'info',
      actorKind: 'system',
      subject: `s${i}`,
      details: { i },
    });
  await sealed();
}

describe('audit chain and checkpoints', () => {
  it('an intact log verifies, with its checkpoints', async () => {
    await someEvents(5);
    await writeCheckpoint(server.ctx);
    await someEvents(2);
    await writeCheckpoint(server.ctx);
    const report = await verify();
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.checkpoints).toBe(2);
    expect(server.logLines.some((l) => l.includes('"msg":"audit checkpoint"'))).toBe(true);
  });

  it('names the first row whose content was edited in the database', async () => {
    await someEvents(6);
    const victim = (await server.ctx.db.get<{ id: number }>("SELECT id FROM audit WHERE subject = 's2'"))!.id;
    expect(await tamper("UPDATE audit SET reason = 'nothing happened' WHERE id = ?", victim)).toBe(1);
    await tamper("UPDATE audit SET outcome = 'success' WHERE subject = 's4'");
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.firstBadRowId).toBe(victim);
    expect(report.problems[0]).toContain(`row ${victim}`);
  });

  it('an edit that also recomputes that row’s hash breaks the link of the next row', async () => {
    await someEvents(4);
    const rows = await server.ctx.db.all<{ id: number }>('SELECT id FROM audit ORDER BY id');
    const victim = rows[2]!.id;
    await tamper("UPDATE audit SET hash = 'f00d' WHERE id = ?", victim);
    const report = await verify();
    expect(report.firstBadRowId).toBe(victim);
  });

  it('detects rows deleted from the middle and a tail cut after a checkpoint', async () => {
    await someEvents(6);
    await writeCheckpoint(server.ctx);
    const before = await verify();
    expect(before.ok).toBe(true);
    const last = (await server.ctx.db.get<{ id: number }>('SELECT MAX(id) AS id FROM audit'))!.id;
    // Cutting the tail leaves an intact chain: only the signed checkpoint shows it.
    expect(await tamper('DELETE FROM audit WHERE id > ?', last - 2)).toBe(2);
    const cut = await verify();
    expect(cut.ok).toBe(false);
    expect(cut.firstBadRowId).toBeUndefined();
    expect(cut.problems.join('\n')).toMatch(/the log was cut/);
    // Deleting from the middle breaks the link of the row after it.
    const mid = last - 4;
    await tamper('DELETE FROM audit WHERE id = ?', mid);
    expect((await verify()).firstBadRowId).toBe(mid + 1);
  });

  it.skipIf(defaultTestEngine() !== 'sqlite')(
    'on SQLite a row stripped of its chain is tampering, not a pending row (PostgreSQL: such a row is pending until sealed)',
    async () => {
      await someEvents(3);
      const last = (await server.ctx.db.get<{ id: number }>('SELECT MAX(id) AS id FROM audit'))!.id;
      await tamper('UPDATE audit SET hash = NULL, prev_hash = NULL WHERE id = ?', last);
      const report = await verify();
      expect(report.firstBadRowId).toBe(last);
      expect(report.unsealed).toBe(0);
    },
  );

  it('a forged or edited checkpoint is reported, not trusted', async () => {
    await someEvents(3);
    await writeCheckpoint(server.ctx);
    const file = checkpointFile(server.dataDir);
    const cp = JSON.parse(readFileSync(file, 'utf8').trim().split('\n').pop()!);
    appendFileSync(file, JSON.stringify({ ...cp, count: 1 }) + '\n');
    const report = await verify();
    expect(report.problems.some((p) => p.includes('bad signature'))).toBe(true);
    writeFileSync(file, 'not json\n');
    expect((await verify()).problems[0]).toContain('unreadable');
  });

  it('refuses audit details that look like secrets', async () => {
    await expect(
      appendAudit(server.ctx.db, server.ctx, {
        type: 'x',
        outcome: 'info',
        actorKind: 'system',
        details: { pin: '1234' },
      }),
    ).rejects.toThrow(/secret/);
  });
});

describe('GET /api/v1/admin/audit', () => {
  it('filters by user, type prefix and actor, and pages backwards', async () => {
    await createUser(h, 'ivy', { pin: '246810' });
    await createUser(h, 'jack');
    const ivy = await h.http('GET', '/api/v1/admin/audit?username=IVY');
    expect(ivy.status).toBe(200);
    expect(ivy.body.events.map((e: { type: string }) => e.type)).toEqual(['pin.set', 'user.created']);
    expect(ivy.body.events[0]).toMatchObject({
      actor: 'admin',
      actorKind: 'admin',
      subject: 'ivy',
      outcome: 'success',
    });
    const logins = await h.http('GET', '/api/v1/admin/audit?type=admin.&actor=admin');
    expect(logins.body.events.length).toBeGreaterThan(0);
    expect(logins.body.events.every((e: { type: string }) => e.type.startsWith('admin.'))).toBe(true);
    const page1 = await h.http('GET', '/api/v1/admin/audit?limit=2');
    expect(page1.body.events).toHaveLength(2);
    const page2 = await h.http('GET', `/api/v1/admin/audit?limit=2&before=${page1.body.nextBefore}`);
    expect(page2.body.events[0].id).toBeLessThan(page1.body.events[1].id);
    const since = await h.http('GET', `/api/v1/admin/audit?since=${server.clock.now() + 1}`);
    expect(since.body.events).toEqual([]);
    expect((await h.http('GET', '/api/v1/admin/audit?limit=0')).status).toBe(400);
    expect((await h.http('GET', '/api/v1/admin/audit?bogus=1')).status).toBe(400);
  });

  it('needs audit.read: the auditor may, helpdesk may not', async () => {
    const auditor = await createAdminAndLogin(h, 'aud', ['auditor']);
    const helpdesk = await createAdminAndLogin(h, 'hd', ['helpdesk']);
    expect((await h.http('GET', '/api/v1/admin/audit', undefined, auditor.token)).status).toBe(200);
    expect((await h.http('GET', '/api/v1/admin/audit', undefined, helpdesk.token)).status).toBe(403);
  });
});
