import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { z } from 'zod';
import { wipe } from '../../src-shared/crypto/compare.js';
import type { ServerContext } from '../context.js';
import type { AdmissionGate, Release } from '../services/admission.js';
import { appendAudit } from '../services/audit.js';
import { authenticate, MESSAGES, type Decision } from './authenticate.js';
import { NoiseBurstDetector } from './burst.js';
import { ChallengeStore } from './challenges.js';
import { RadiusClientRegistry, type ActiveClient } from './clients.js';
import { DuplicateDetector } from './duplicates.js';
import {
  ATTR,
  attribute,
  buildResponse,
  CODE,
  decryptUserPassword,
  hasValidMessageAuthenticator,
  parsePacket,
  textAttributes,
  type RadiusPacket,
} from './packet.js';

/**
 * The RADIUS authentication server (RFC 2865 over UDP, PAP only). Order of checks per datagram, each failure a
 * silent drop that is counted (RFC 2865 §3; a drop tells a prober nothing):
 *   1. well-formed Access-Request;  2. source address of a registered client;
 *   3. Message-Authenticator valid, and present unless the client is relaxed (BlastRADIUS: before anything else);
 *   4. a retransmission gets the first copy's answer, from whichever instance verified it;
 *   5. a place in the instance's admission gate, shared with the HTTP verify routes (services/admission.ts), before
 *      the request is claimed or anything reserved: shed when there is none within the gate's wait;
 *   6. decrypt, read, verify.
 */
/** What the RADIUS server counted since it started (shown on /readyz): packets, answers and silent drops by reason. */
export const RadiusStatsSchema = z.object({
  received: z.number().int(),
  accepted: z.number().int(),
  rejected: z.number().int(),
  challenged: z.number().int(),
  duplicates: z.number().int(),
  dropped: z.object({
    malformed: z.number().int(),
    unsupportedCode: z.number().int(),
    unknownSource: z.number().int(),
    badMessageAuthenticator: z.number().int(),
    missingMessageAuthenticator: z.number().int(),
    /** No place in the admission gate within its wait: nothing claimed, counted or verified; the NAS retransmits. */
    shed: z.number().int(),
    /** The user's other attempts held every lockout place (verifyCode's `busy`): nothing counted; the NAS retransmits. */
    busy: z.number().int(),
    error: z.number().int(),
  }),
  /** Passwords that decrypted to noise (wrong secret or forgery) from relaxed clients; never verified. */
  noisyPasswords: z.number().int(),
  noiseBursts: z.number().int(),
});
export type RadiusStats = z.infer<typeof RadiusStatsSchema>;

export interface RadiusServer {
  port: number;
  stats: RadiusStats;
  close(): Promise<void>;
}

export interface RadiusOptions {
  host: string;
  port: number;
  /** The instance's verification gate, the very one of the HTTP routes (`app.admission`): one budget per instance. */
  admission: AdmissionGate;
  /**
   * How long a copy of a request waits for the answer of the copy another instance is verifying before it gives up
   * and sends nothing (default 30 s, the duplicate-detection window). Tests shorten it.
   */
  duplicateWaitMs?: number;
}

export async function startRadiusServer(ctx: ServerContext, options: RadiusOptions): Promise<RadiusServer> {
  const stats: RadiusStats = {
    received: 0,
    accepted: 0,
    rejected: 0,
    challenged: 0,
    duplicates: 0,
    dropped: {
      malformed: 0,
      unsupportedCode: 0,
      unknownSource: 0,
      badMessageAuthenticator: 0,
      missingMessageAuthenticator: 0,
      shed: 0,
      busy: 0,
      error: 0,
    },
    noisyPasswords: 0,
    noiseBursts: 0,
  };
  const log = ctx.log.child({ component: 'radius' });
  const registry = new RadiusClientRegistry(ctx);
  const duplicates = new DuplicateDetector(ctx, {
    ttlMs: DUPLICATE_TTL_MS,
    waitMs: options.duplicateWaitMs ?? DUPLICATE_TTL_MS,
    maxLocal: 65_536,
  });
  const challenges = new ChallengeStore(ctx);
  const noise = new NoiseBurstDetector(ctx.clock);

  const socket: Socket = createSocket({ type: isIP(options.host) === 6 ? 'udp6' : 'udp4', reuseAddr: false });

  async function onDatagram(datagram: Buffer, from: RemoteInfo): Promise<void> {
    stats.received++;
    const packet = parsePacket(datagram);
    if (!packet) return drop('malformed', from);
    if (packet.code !== CODE.AccessRequest) return drop('unsupportedCode', from);
    const client = await registry.lookup(from.address);
    if (!client) return drop('unknownSource', from);
    const signed = packet.messageAuthenticatorOffset !== undefined;
    if (signed && !hasValidMessageAuthenticator(packet, client.secret))
      return drop('badMessageAuthenticator', from, client);
    if (!signed && client.requireMessageAuthenticator) return drop('missingMessageAuthenticator', from, client);

    const key = {
      clientId: client.id,
      address: from.address,
      port: from.port,
      identifier: packet.identifier,
      authenticator: packet.authenticator,
    };
    const answer = await duplicates.answer(key, admit, () => answerRequest(packet, client, signed));
    if (answer.duplicate) stats.duplicates++;
    send(answer.bytes, from);
  }

  /**
   * A place in the gate, or null: dropped silently, since RADIUS has no "busy" answer (RFC 5080: the NAS retransmits,
   * or fails over to another server). Counted here; the gate counts it too and logs its sheds once a second at most,
   * so no line per packet here.
   */
  async function admit(): Promise<Release | null> {
    const release = await options.admission.enter();
    if (!release) stats.dropped.shed++;
    return release;
  }

  async function answerRequest(
    packet: RadiusPacket,
    client: ActiveClient,
    signed: boolean,
  ): Promise<Buffer | undefined | 'retry'> {
    try {
      const decision = await decide(packet, client, signed);
      if (decision.kind === 'retry') {
        stats.dropped.busy++;
        return 'retry';
      }
      const code =
        decision.kind === 'accept'
          ? CODE.AccessAccept
          : decision.kind === 'challenge'
            ? CODE.AccessChallenge
            : CODE.AccessReject;
      if (decision.kind === 'accept') stats.accepted++;
      else if (decision.kind === 'challenge') stats.challenged++;
      else stats.rejected++;
      const attributes = decision.kind === 'accept' ? [] : textAttributes(ATTR.ReplyMessage, decision.message);
      if (decision.kind === 'challenge') attributes.push({ type: ATTR.State, value: decision.state });
      return buildResponse(packet, code, attributes, client.secret);
    } catch (err) {
      // No answer rather than a wrong one: the NAS retries or fails over to another server.
      stats.dropped.error++;
      log.error(
        { err: { type: (err as Error).name, message: (err as Error).message }, nas: client.name },
        'RADIUS request failed',
      );
      return undefined;
    }
  }

  async function decide(packet: RadiusPacket, client: ActiveClient, signed: boolean): Promise<Decision> {
    const rejected: Decision = { kind: 'reject', message: MESSAGES.rejected };
    const username = attribute(packet, ATTR.UserName)?.toString('utf8').trim();
    const encrypted = attribute(packet, ATTR.UserPassword);
    if (!username || !encrypted) return rejected; // PAP only: CHAP and EAP cannot carry a PIN and a one-time code
    const plain = decryptUserPassword(encrypted, client.secret, packet.authenticator);
    const password = plain && readableText(plain);
    wipe(plain);
    if (password === undefined) {
      if (!signed) await recordNoise(client);
      return rejected;
    }
    if (!signed && noise.isQuarantined(client.id)) return rejected;
    const state = attribute(packet, ATTR.State);
    return authenticate(ctx, challenges, client, { username, password, ...(state ? { state } : {}) });
  }

  async function recordNoise(client: ActiveClient): Promise<void> {
    stats.noisyPasswords++;
    if (!noise.recordNoise(client.id)) return;
    stats.noiseBursts++;
    log.warn(
      { nas: client.name },
      'burst of undecodable passwords without Message-Authenticator: wrong shared secret or forged requests; not counted against users',
    );
    await appendAudit(ctx.db, ctx, {
      type: 'radius.client.noise_burst',
      outcome: 'failure',
      actorKind: 'radius',
      actor: client.name,
      reason: 'undecodable passwords without Message-Authenticator (wrong shared secret or forgery)',
    });
  }

  function drop(reason: keyof RadiusStats['dropped'], from: RemoteInfo, client?: ActiveClient): void {
    stats.dropped[reason]++;
    log.debug({ reason, source: from.address, nas: client?.name }, 'RADIUS packet dropped');
  }

  function send(bytes: Buffer | undefined, to: RemoteInfo): void {
    if (bytes) socket.send(bytes, to.port, to.address);
  }

  socket.on('message', (datagram, from) => {
    onDatagram(datagram, from).catch((err: unknown) => {
      stats.dropped.error++;
      log.error({ err: { type: (err as Error).name, message: (err as Error).message } }, 'RADIUS datagram failed');
    });
  });
  socket.on('error', (err) => log.error({ err: { type: err.name, message: err.message } }, 'RADIUS socket error'));

  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(options.port, options.host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const port = socket.address().port;
  log.info({ host: options.host, port }, 'RADIUS server listening');
  return {
    port,
    stats,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** RFC 5080 §2.2.2 asks for at least 30 s. */
const DUPLICATE_TTL_MS = 30_000;

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * The password as text, or undefined when it is not something a person typed: invalid UTF-8 or control characters.
 * That is what a wrong shared secret produces (16 random bytes pass with probability ~1e-7).
 */
function readableText(bytes: Buffer): string | undefined {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return undefined;
  }
  return /\p{Cc}/u.test(text) ? undefined : text;
}
