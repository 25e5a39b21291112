import type { RendererApi, StatusResponse } from '../src-shared/ipc.js';
import { AgentClock, byId, renderMessage } from './dom.js';
import { ago, dateTime, fromNow, plural } from './format.js';
import { failureMessage } from './messages.js';

/**
 * The status view and the connection banner: server reachable or not, last sync, events waiting, and per cached
 * user what the offline data still covers. 'Sync now' shows progress by polling status while the sync runs.
 * Reachability comes from the core, which checks the server again (within its budget) whenever a status request
 * finds the last check older than a few seconds, so polling status keeps the banner current without a sign-in.
 */

type Status = Extract<StatusResponse, { ok: true }>;

const IDLE_POLL_MS = 5_000;
const SYNC_POLL_MS = 250;
/** Older than this, the core could not check lately (it re-checks after ~15 s): the answer is shown with its age. */
const STALE_CHECK_MS = 2 * 60_000;

const DEVICE_STATE_TEXT: Record<Status['device']['state'], string> = {
  unenrolled: 'Not enrolled with the server',
  pending: 'Enrolled, waiting for an administrator to approve it',
  approved: 'Enrolled and approved',
  revoked: 'Revoked by an administrator',
};

export interface StatusView {
  refresh(): Promise<void>;
  /** The last status, for the banner's per-user offline days. */
  latest(): Status | undefined;
}

export function mountStatus(api: RendererApi, clock: AgentClock, currentUser: () => string): StatusView {
  const connection = byId('connection');
  const server = byId('status-server');
  const lastSync = byId('status-last-sync');
  const pending = byId('status-pending');
  const device = byId('status-device');
  const offline = byId('status-offline');
  const rows = byId('status-users').querySelector('tbody') as HTMLTableSectionElement;
  const syncNow = byId<HTMLButtonElement>('sync-now');
  const progress = byId<HTMLProgressElement>('sync-progress');
  const syncResult = byId('sync-result');
  const resetArea = byId('store-reset');
  const resetStore = byId<HTMLButtonElement>('reset-store');
  const resetResult = byId('reset-result');

  let latest: Status | undefined;
  let inFlight: Promise<void> | undefined;

  function renderBanner(s: Status): void {
    if (s.server.checkedAt === null) {
      // Only while the agent's first check is under way: it is not known yet, so it is not called offline.
      connection.dataset.state = 'unknown';
      connection.textContent = 'Checking whether the server answers; signing in will try it first.';
      return;
    }
    connection.dataset.state = s.server.reachable ? 'online' : 'offline';
    if (s.server.reachable) {
      // An old answer (the agent could not check lately) is shown as old, not as now.
      connection.textContent =
        s.now - s.server.checkedAt < STALE_CHECK_MS
          ? 'Online: the server answers.'
          : `Online when last checked (${ago(s.server.checkedAt, s.now)}); signing in checks again.`;
      return;
    }
    const me = s.users.find((u) => u.username === currentUser().toLowerCase());
    const days = me ? ` ${plural(me.offlineDaysLeft, 'day')} of offline data left for ${me.username}.` : '';
    connection.textContent = `Offline mode: the server cannot be reached; this device checks your code itself.${days}`;
  }

  function render(s: Status): void {
    const now = s.now;
    renderBanner(s);
    const url = document.createElement('span');
    url.className = 'detail';
    url.textContent = s.server.url;
    server.replaceChildren(
      s.server.checkedAt === null ? 'Not checked yet' : s.server.reachable ? 'Reachable' : 'Not reachable',
      url,
    );
    lastSync.textContent =
      s.lastSyncAt === null ? 'Never' : `${dateTime(s.lastSyncAt, now)} (${ago(s.lastSyncAt, now)})`;
    pending.textContent = String(s.pendingEvents);
    device.textContent = DEVICE_STATE_TEXT[s.device.state];
    offline.textContent = s.offline.available
      ? 'Available'
      : `Not available: ${s.offline.message ?? s.offline.reason ?? 'unknown reason'}`;
    resetArea.hidden = s.offline.available || !s.offline.resettable;
    rows.replaceChildren(
      ...s.users.map((u) => {
        const tr = document.createElement('tr');
        tr.dataset.username = u.username;
        const th = document.createElement('th');
        th.scope = 'row';
        th.textContent = u.username;
        const cells = [
          String(u.offlineDaysLeft),
          String(u.emergencySlotsLeft),
          u.temporaryCodeExpiresAt === null
            ? 'None'
            : `${dateTime(u.temporaryCodeExpiresAt, now)} (${fromNow(u.temporaryCodeExpiresAt, now)})`,
          String(u.pendingEvents),
        ].map((text) => {
          const td = document.createElement('td');
          td.textContent = text;
          return td;
        });
        tr.append(th, ...cells);
        return tr;
      }),
    );
    if (s.users.length === 0) {
      const tr = document.createElement('tr');
      const td = document.createElement('td');
      td.colSpan = 5;
      td.textContent = 'Nobody yet: offline data arrives at the first online sign-in on an approved device.';
      tr.append(td);
      rows.append(tr);
    }
    if (s.sync.running) {
      progress.hidden = false;
      progress.max = Math.max(1, s.sync.total);
      progress.value = s.sync.done;
    }
  }

  async function refresh(): Promise<void> {
    // One request at a time: a slow reachability check must not pile up polls behind it.
    inFlight ??= api.status({}).then((answer) => {
      inFlight = undefined;
      if (!answer.ok) {
        connection.dataset.state = 'offline';
        connection.textContent = answer.message;
        return;
      }
      clock.sync(answer.now);
      latest = answer;
      render(answer);
    });
    return inFlight;
  }

  syncNow.addEventListener('click', () => {
    syncNow.disabled = true;
    progress.hidden = false;
    progress.removeAttribute('value'); // indeterminate until the agent reports a total
    renderMessage(syncResult, { tone: 'info', title: 'Syncing…', lines: [] });
    const poll = window.setInterval(() => void refresh(), SYNC_POLL_MS);
    void api.syncNow({}).then(async (answer) => {
      window.clearInterval(poll);
      syncNow.disabled = false;
      progress.hidden = true;
      if (answer.ok) {
        renderMessage(syncResult, {
          tone: answer.pendingEvents === 0 ? 'ok' : 'warn',
          title:
            answer.pendingEvents === 0
              ? 'Sync complete: nothing left to send.'
              : `Sync incomplete: ${plural(answer.pendingEvents, 'event')} still waiting.`,
          lines: [
            `${plural(answer.uploaded, 'event')} sent, ${plural(answer.resetsApplied, 'change')} from the server applied.`,
          ],
        });
      } else {
        renderMessage(syncResult, failureMessage(answer, clock.now()));
      }
      await refresh();
    });
  });

  // The damaged files are moved aside (kept for IT), never deleted; the new store reports the loss at the next sync.
  resetStore.addEventListener('click', () => {
    resetStore.disabled = true;
    void api.resetStore({}).then(async (answer) => {
      resetStore.disabled = false;
      renderMessage(
        resetResult,
        answer.ok
          ? {
              tone: 'ok',
              title: 'Offline data reset: offline mode works again after the next online sign-in.',
              lines: answer.setAsideTo ? [`The old files were kept for IT in ${answer.setAsideTo}.`] : [],
            }
          : failureMessage(answer, clock.now()),
      );
      await refresh();
    });
  });

  window.setInterval(() => void refresh(), IDLE_POLL_MS);
  return { refresh, latest: () => latest };
}
