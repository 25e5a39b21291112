import type { IpcFailure, LoginResponse } from '../src-shared/ipc.js';
import { clockTime, dateTime, fromNow, HOUR, plural } from './format.js';

/**
 * What each answer means for the person in front of the prompt: what happened, and what to do next.
 * Pure: the DOM code only renders these.
 */

export type Tone = 'ok' | 'warn' | 'bad' | 'info';

export interface Message {
  tone: Tone;
  title: string;
  lines: string[];
  /** Set when the prompt must wait: the moment (agent clock) the lock ends. */
  lockedUntil?: number;
}

/** A temporary code this close to its end is worth a warning. */
export const EXPIRES_SOON_MS = 2 * HOUR;

export function loginMessage(result: LoginResponse, now: number): Message {
  if (!result.ok) return failureMessage(result, now);
  const lines: string[] = [];
  const offline = result.mode === 'offline';
  const title = offline ? 'Signed in offline' : 'Signed in';
  if (offline)
    lines.push(
      'The server could not be reached, so this device checked your code itself. What happened will be sent to the server when it is back.',
    );
  if (result.method === 'temporary' && result.temporaryCodeExpiresAt) {
    const at = result.temporaryCodeExpiresAt;
    const soon = at - now <= EXPIRES_SOON_MS;
    lines.push(
      `Your temporary code expires ${soon ? 'soon: ' : ''}${dateTime(at, now)} (${fromNow(at, now)}).${soon ? ' Ask the helpdesk for a new one if you still need it.' : ''}`,
    );
  }
  if (result.method === 'emergency' || result.method === 'offline-emergency')
    lines.push('That code is now used up; each emergency code works once.');
  if (typeof result.emergencySlotsLeft === 'number' && result.method === 'offline-emergency') {
    lines.push(`${plural(result.emergencySlotsLeft, 'offline emergency code')} left on this device.`);
  }
  if (typeof result.offlineDaysLeft === 'number') {
    lines.push(
      result.offlineDaysLeft > 0
        ? `${plural(result.offlineDaysLeft, 'day')} of offline data left on this device.`
        : 'No offline data left on this device: connect to the network to sign in next time.',
    );
  }
  if (result.offlinePreparing) lines.push('Offline data is being prepared in the background.');
  const tone: Tone =
    result.method === 'temporary' &&
    result.temporaryCodeExpiresAt &&
    result.temporaryCodeExpiresAt - now <= EXPIRES_SOON_MS
      ? 'warn'
      : 'ok';
  return { tone, title, lines };
}

export function failureMessage(f: IpcFailure, now: number): Message {
  const where = f.mode === 'offline' ? ' (offline mode: checked on this device)' : '';
  switch (f.error) {
    case 'invalid_code': {
      const lines = [
        'Check your PIN and the code. If the code is about to change on your token, wait for the next one.',
      ];
      if (typeof f.triesLeft === 'number') {
        const sanction = f.mode === 'offline' ? 'this computer erases your offline data' : 'a lock';
        lines.unshift(
          f.triesLeft > 0
            ? `${plural(f.triesLeft, 'try', 'tries')} left before ${sanction}.`
            : `The next wrong attempt means ${sanction}.`,
        );
      }
      return { tone: 'bad', title: `That PIN and code did not match${where}.`, lines };
    }
    case 'locked': {
      const until = f.lockedUntil ?? now + (f.retryAfterSeconds ?? 0) * 1000;
      return {
        tone: 'bad',
        title: `Too many wrong attempts: locked until ${clockTime(until)}${where}.`,
        lines: ['Wait until then and try again, or call the helpdesk if you cannot wait.'],
        lockedUntil: until,
      };
    }
    case 'rate_limited':
      return {
        tone: 'bad',
        title: 'Too many attempts.',
        lines: [`Try again ${f.retryAfterSeconds ? fromNow(now + f.retryAfterSeconds * 1000, now) : 'later'}.`],
      };
    case 'busy':
      // Other sign-ins of this user were being checked at that moment: nothing was checked or counted.
      return {
        tone: 'warn',
        title: 'The server is checking another sign-in of yours.',
        lines: [
          `Try again ${f.retryAfterSeconds ? fromNow(now + f.retryAfterSeconds * 1000, now) : 'in a moment'}; this attempt did not count.`,
        ],
      };
    case 'purpose_not_allowed':
      return {
        tone: 'bad',
        title: 'This code cannot be used for this.',
        lines: ['Ask the helpdesk for a code that allows it.'],
      };
    case 'server_unreachable':
    case 'offline_unavailable':
      return {
        tone: 'warn',
        title: 'Offline mode: the server cannot be reached.',
        lines: [f.message, 'Sign in once while connected to download offline data, or call the helpdesk.'],
      };
    case 'offline_refused':
      return {
        tone: 'bad',
        title: 'Offline sign-in refused.',
        lines: [f.message, 'Connect to the network to sign in, or call the helpdesk.'],
      };
    case 'keychain_unavailable':
    case 'store_tampered':
    case 'store_damaged':
    case 'store_busy':
      return {
        tone: 'bad',
        title: 'Offline sign-in is not available on this device.',
        lines: [f.message, 'Connect to the network to sign in.'],
      };
    case 'user_inactive':
    case 'device_revoked':
    case 'device_pending':
    case 'not_eligible':
    case 'feature_disabled':
      return { tone: 'bad', title: 'Sign-in is not possible this way.', lines: [f.message, 'Call the helpdesk.'] };
    case 'validation_failed':
    case 'bad_request':
      return { tone: 'bad', title: 'Something is missing.', lines: [f.message] };
    default:
      return {
        tone: 'bad',
        title: 'Sign-in failed.',
        lines: [f.message, 'Try again; if it keeps failing, call the helpdesk.'],
      };
  }
}
