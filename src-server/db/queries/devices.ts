import { normalizeCode } from '../../../src-shared/codes.js';
import type { DeviceStatus } from '../../../src-shared/protocol/enroll.js';
import type { Param, Queryable, Row } from '../port.js';

/** An enrolled agent (table `devices`). */
export interface DeviceRecord {
  id: string;
  signingPublicKey: string;
  encryptionPublicKey: string;
  machineIdHash: string;
  hostname: string;
  agentVersion: string;
  status: DeviceStatus;
  enrolledAt: number;
  approvedAt: number | null;
  approvedBy: string | null;
  revokedAt: number | null;
  revokedBy: string | null;
  lastSeenAt: number | null;
  /** Seq and hash of the last outbox event recorded (hash-chain continuity). */
  chainSeq: number;
  chainHead: string;
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : (v as string));

function toDeviceRecord(r: Row): DeviceRecord {
  return {
    id: r.id as string,
    signingPublicKey: r.signing_public_key as string,
    encryptionPublicKey: r.encryption_public_key as string,
    machineIdHash: r.machine_id_hash as string,
    hostname: r.hostname as string,
    agentVersion: r.agent_version as string,
    status: r.status as DeviceStatus,
    enrolledAt: Number(r.enrolled_at),
    approvedAt: num(r.approved_at),
    approvedBy: str(r.approved_by),
    revokedAt: num(r.revoked_at),
    revokedBy: str(r.revoked_by),
    lastSeenAt: num(r.last_seen_at),
    chainSeq: Number(r.chain_seq),
    chainHead: r.chain_head as string,
  };
}
const maybe = (r: Row | undefined) => (r ? toDeviceRecord(r) : undefined);

export async function findDevice(q: Queryable, id: string): Promise<DeviceRecord | undefined> {
  return maybe(await q.get('SELECT * FROM devices WHERE id = ?', [id]));
}

export async function findDeviceBySigningKey(
  q: Queryable,
  signingPublicKey: string,
): Promise<DeviceRecord | undefined> {
  return maybe(await q.get('SELECT * FROM devices WHERE signing_public_key = ?', [signingPublicKey]));
}

export async function insertDevice(
  q: Queryable,
  d: {
    id: string;
    signingPublicKey: string;
    encryptionPublicKey: string;
    machineIdHash: string;
    hostname: string;
    agentVersion: string;
    status: DeviceStatus;
    now: number;
    approvedBy: string | null;
  },
): Promise<void> {
  const approved = d.status === 'approved';
  await q.run(
    `INSERT INTO devices (id, signing_public_key, encryption_public_key, machine_id_hash, hostname, agent_version, status, enrolled_at, approved_at, approved_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      d.id,
      d.signingPublicKey,
      d.encryptionPublicKey,
      d.machineIdHash,
      d.hostname,
      d.agentVersion,
      d.status,
      d.now,
      approved ? d.now : null,
      approved ? d.approvedBy : null,
    ],
  );
}

/** False unless the device was pending. */
export async function approvePendingDevice(q: Queryable, id: string, admin: string, now: number): Promise<boolean> {
  return (
    (
      await q.run(
        "UPDATE devices SET status = 'approved', approved_at = ?, approved_by = ? WHERE id = ? AND status = 'pending'",
        [now, admin, id],
      )
    ).changes > 0
  );
}

/** False when it was revoked already. */
export async function revokeDevice(q: Queryable, id: string, admin: string, now: number): Promise<boolean> {
  return (
    (
      await q.run(
        "UPDATE devices SET status = 'revoked', revoked_at = ?, revoked_by = ? WHERE id = ? AND status <> 'revoked'",
        [now, admin, id],
      )
    ).changes > 0
  );
}

export async function touchDeviceLastSeen(q: Queryable, id: string, now: number): Promise<void> {
  await q.run('UPDATE devices SET last_seen_at = ? WHERE id = ?', [now, id]);
}

/**
 * Locks the device row until commit and reads its chain position and status under the lock: a batch racing this one
 * on another instance waits, then reads what this one commits.
 */
export async function lockDeviceChain(
  q: Queryable,
  id: string,
): Promise<{ chainSeq: number; chainHead: string; status: DeviceStatus } | undefined> {
  const row = await q.get<{ chain_seq: number; chain_head: string; status: DeviceStatus }>(
    'UPDATE devices SET chain_seq = chain_seq WHERE id = ? RETURNING chain_seq, chain_head, status',
    [id],
  );
  return row ? { chainSeq: Number(row.chain_seq), chainHead: row.chain_head, status: row.status } : undefined;
}

/** Moves the chain position forward (never back), with the agent version the batch reported when given. */
export async function advanceDeviceChain(
  q: Queryable,
  id: string,
  chain: { seq: number; head: string },
  agentVersion?: string,
): Promise<void> {
  if (agentVersion === undefined) {
    await q.run('UPDATE devices SET chain_seq = ?, chain_head = ? WHERE id = ? AND chain_seq <= ?', [
      chain.seq,
      chain.head,
      id,
      chain.seq,
    ]);
  } else {
    await q.run('UPDATE devices SET chain_seq = ?, chain_head = ?, agent_version = ? WHERE id = ? AND chain_seq <= ?', [
      chain.seq,
      chain.head,
      agentVersion,
      id,
      chain.seq,
    ]);
  }
}

/** At most 500, newest first; `search` matches the id exactly or the hostname in part. */
export async function listDevices(
  q: Queryable,
  filter: { status?: DeviceStatus; q?: string },
): Promise<DeviceRecord[]> {
  const where: string[] = [];
  const params: Param[] = [];
  if (filter.status) {
    where.push('status = ?');
    params.push(filter.status);
  }
  if (filter.q) {
    where.push('(id = ? OR lower(hostname) LIKE ?)');
    params.push(normalizeCode(filter.q), `%${filter.q.toLowerCase().replace(/[%_]/g, '')}%`);
  }
  return (
    await q.all(
      `SELECT * FROM devices ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY enrolled_at DESC LIMIT 500`,
      params,
    )
  ).map(toDeviceRecord);
}
