import {
  BundleContentSchema,
  BundleDeltaSchema,
  bundleSealContext,
  type BundleContent,
  type BundleDelta,
  type BundleHeader,
} from '../protocol/bundle.js';
import { PROTOCOL_VERSION, SIGNATURE_DOMAINS, type ServerKey } from '../protocol/common.js';
import { openBox, sealTo, type X25519KeyPair } from './box.js';
import { signPayload, verifyPayload } from './sign.js';

/**
 * Building, checking and opening bundle deltas (docs/design.md §5). The server seals the content to the device's X25519 key
 * under a context naming device, user and sequence, then signs header and box together; the agent accepts a delta
 * only when a pinned server key signed it, it names this device (and the user it logged in), and its sequence is
 * above the last one it applied for that user.
 */
function signedPart(header: BundleHeader, box: BundleDelta['box']) {
  return { header, box };
}

export function sealBundle(opts: {
  signing: { privateKey: string; fingerprint: string };
  devicePublicKey: string;
  header: BundleHeader;
  content: BundleContent;
}): BundleDelta {
  const plaintext = Buffer.from(JSON.stringify(opts.content), 'utf8');
  try {
    const box = sealTo(opts.devicePublicKey, plaintext, bundleSealContext(opts.header));
    const signature = signPayload(
      opts.signing.privateKey,
      SIGNATURE_DOMAINS.bundle,
      PROTOCOL_VERSION,
      signedPart(opts.header, box),
    );
    return { header: opts.header, box, keyFingerprint: opts.signing.fingerprint, signature };
  } finally {
    plaintext.fill(0); // it held token and slot codes
  }
}

export type BundleCheckError =
  'malformed' | 'unknown_key' | 'bad_signature' | 'wrong_device' | 'wrong_user' | 'stale_sequence' | 'expired';

export function verifyBundle(
  input: unknown,
  expect: { pinned: readonly ServerKey[]; deviceId: string; username?: string; lastSequence?: number; now?: number },
): { ok: true; delta: BundleDelta } | { ok: false; error: BundleCheckError } {
  const parsed = BundleDeltaSchema.safeParse(input);
  if (!parsed.success) return { ok: false, error: 'malformed' };
  const delta = parsed.data;
  const key = expect.pinned.find((k) => k.fingerprint === delta.keyFingerprint);
  if (!key) return { ok: false, error: 'unknown_key' };
  if (
    !verifyPayload(
      key.publicKey,
      delta.signature,
      SIGNATURE_DOMAINS.bundle,
      PROTOCOL_VERSION,
      signedPart(delta.header, delta.box),
    )
  ) {
    return { ok: false, error: 'bad_signature' };
  }
  if (delta.header.deviceId !== expect.deviceId) return { ok: false, error: 'wrong_device' };
  if (expect.username !== undefined && delta.header.username !== expect.username)
    return { ok: false, error: 'wrong_user' };
  if (expect.lastSequence !== undefined && delta.header.sequence <= expect.lastSequence)
    return { ok: false, error: 'stale_sequence' };
  if (expect.now !== undefined && delta.header.expiresAt <= expect.now) return { ok: false, error: 'expired' };
  return { ok: true, delta };
}

/** Decrypts a delta that verifyBundle accepted; throws when the box does not open with this device's key. */
export function openBundle(delta: BundleDelta, deviceKey: X25519KeyPair): BundleContent {
  const plaintext = openBox(deviceKey, delta.box, bundleSealContext(delta.header));
  try {
    return BundleContentSchema.parse(JSON.parse(plaintext.toString('utf8')));
  } finally {
    plaintext.fill(0);
  }
}
