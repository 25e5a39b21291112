/**
 * One definition of a username for the server, the agent and the console: the agent must find offline what the
 * server stored online, so both fold names the same way.
 */
export const USERNAME_MAX = 64;

/**
 * Letters and digits of any script, then also combining marks and `. _ @ -`. Everything else is refused: control and
 * format characters (zero-width joiners, bidi overrides), spaces inside, symbols, so that two usernames that look
 * the same on a helpdesk screen are the same string.
 */
const USERNAME_RE = /^[\p{L}\p{N}][\p{L}\p{M}\p{N}._@-]*$/u;

/** NFC, trimmed, lower case (NFC again: lower-casing can denormalise). */
export function foldUsername(input: string): string {
  return input.normalize('NFC').trim().toLowerCase().normalize('NFC');
}

/** The folded username, or undefined when it is not an acceptable username. */
export function tryNormalizeUsername(input: string): string | undefined {
  const s = foldUsername(input);
  if (s.length === 0 || [...s].length > USERNAME_MAX || !USERNAME_RE.test(s)) return undefined;
  return s;
}
