/** Times and durations as the prompt says them. Pure functions, so they are easy to check. */

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** "14:05" in the machine's local time, 24-hour. */
export function clockTime(at: number): string {
  const d = new Date(at);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** "14:05" today, "Tue 24 Nov 14:05" otherwise. */
export function dateTime(at: number, now: number): string {
  const d = new Date(at);
  if (new Date(now).toDateString() === d.toDateString()) return clockTime(at);
  const day = d.toLocaleDateString('en-GB', { weekday: 'short', day: 'numeric', month: 'short' });
  return `${day} ${clockTime(at)}`;
}

/** "4:59" for a countdown (minutes:seconds), "1:02:03" past an hour. */
export function countdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h > 0
    ? `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`
    : `${m}:${String(s).padStart(2, '0')}`;
}

/** "in 3 hours", "in 12 minutes", "in 2 days" — rounded down, never "in 0 minutes". */
export function fromNow(at: number, now: number): string {
  const ms = at - now;
  if (ms <= 0) return 'now';
  if (ms >= 2 * DAY) return `in ${Math.floor(ms / DAY)} days`;
  if (ms >= 2 * HOUR) return `in ${Math.floor(ms / HOUR)} hours`;
  const minutes = Math.max(1, Math.floor(ms / MINUTE));
  return `in ${minutes} minute${minutes === 1 ? '' : 's'}`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "just now", "5 minutes ago", "3 hours ago", "2 days ago". */
export function ago(at: number, now: number): string {
  const ms = now - at;
  if (ms < MINUTE) return 'just now';
  if (ms < 2 * HOUR) return `${plural(Math.floor(ms / MINUTE), 'minute')} ago`;
  if (ms < 2 * DAY) return `${plural(Math.floor(ms / HOUR), 'hour')} ago`;
  return `${plural(Math.floor(ms / DAY), 'day')} ago`;
}
