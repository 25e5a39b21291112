import type { Queryable, Row } from '../port.js';

/** A named policy (table `policies`); `body` is its JSON as stored, parsed by services/policy.ts. */
export interface PolicyRecord {
  id: number;
  name: string;
  isDefault: boolean;
  body: string;
  updatedAt: number;
}

function toPolicyRecord(r: Row): PolicyRecord {
  return {
    id: Number(r.id),
    name: r.name as string,
    isDefault: Number(r.is_default) === 1,
    body: r.body as string,
    updatedAt: Number(r.updated_at),
  };
}
const maybe = (r: Row | undefined) => (r ? toPolicyRecord(r) : undefined);

export async function findPolicyById(q: Queryable, id: number): Promise<PolicyRecord | undefined> {
  return maybe(await q.get('SELECT * FROM policies WHERE id = ?', [id]));
}

export async function findDefaultPolicy(q: Queryable): Promise<PolicyRecord | undefined> {
  return maybe(await q.get('SELECT * FROM policies WHERE is_default = 1'));
}

export async function findPolicyByName(q: Queryable, name: string): Promise<PolicyRecord | undefined> {
  return maybe(await q.get('SELECT * FROM policies WHERE name = ?', [name]));
}

/** The default first, then by name. */
export async function listPolicies(q: Queryable): Promise<PolicyRecord[]> {
  return (await q.all('SELECT * FROM policies ORDER BY is_default DESC, name')).map(toPolicyRecord);
}

export async function insertPolicy(q: Queryable, name: string, body: string, now: number): Promise<void> {
  await q.run('INSERT INTO policies (name, is_default, body, updated_at) VALUES (?, 0, ?, ?)', [name, body, now]);
}

export async function updatePolicyBody(q: Queryable, id: number, body: string, now: number): Promise<void> {
  await q.run('UPDATE policies SET body = ?, updated_at = ? WHERE id = ?', [body, now, id]);
}

export async function deletePolicy(q: Queryable, id: number): Promise<void> {
  await q.run('DELETE FROM policies WHERE id = ?', [id]);
}
