import { api, enc } from '../api.js';
import { confirmDialog, messageOf } from '../dialogs.js';
import { announce, append, h, shortDate, table } from '../dom.js';
import type { PageContext } from '../page-context.js';
import type { DeviceSummary } from '../../../../src-shared/protocol/admin.js';

type DeviceEntry = DeviceSummary;
const idOf = (d: DeviceEntry): string => d.deviceId;

/** Orders agent versions as semver does: numeric parts first, then a release above its pre-releases (0.2.0 > 0.2.0-rc.1). */
function compareVersions(a: string, b: string): number {
  const [coreA = '', ...preA] = a.split('-');
  const [coreB = '', ...preB] = b.split('-');
  const numsA = coreA.split('.').map(Number);
  const numsB = coreB.split('.').map(Number);
  for (let i = 0; i < Math.max(numsA.length, numsB.length); i++) {
    const diff = (numsA[i] ?? 0) - (numsB[i] ?? 0);
    if (diff !== 0 && !Number.isNaN(diff)) return diff;
  }
  const [pa, pb] = [preA.join('-'), preB.join('-')];
  if (pa === pb) return 0;
  if (pa === '') return 1;
  if (pb === '') return -1;
  return pa.localeCompare(pb, 'en', { numeric: true });
}

/** The newest agent version among devices still in service: IT's yardstick for stragglers. */
function newestVersion(devices: DeviceEntry[]): string | null {
  return devices
    .filter((d) => d.status !== 'revoked')
    .map((d) => d.agentVersion)
    .reduce<string | null>((best, v) => (best === null || compareVersions(v, best) > 0 ? v : best), null);
}

const isOutdated = (d: DeviceEntry, newest: string | null): boolean =>
  newest !== null && d.status !== 'revoked' && compareVersions(d.agentVersion, newest) < 0;

/** The version, and the word "outdated" (not only a colour) when the device runs an older agent than the newest seen. */
function versionCell(d: DeviceEntry, newest: string | null): HTMLElement {
  return isOutdated(d, newest)
    ? h('span', {}, d.agentVersion, ' ', h('strong', { class: 'badge inactive' }, 'outdated'))
    : h('span', {}, d.agentVersion);
}

/** Workstations: approve pending ones (before they receive offline data), revoke, and reset offline data. */
export async function renderDevices(ctx: PageContext): Promise<void> {
  const { devices } = await api<{ devices: DeviceEntry[] }>('GET', '/api/v1/admin/devices');
  const pending = devices.filter((d) => d.status === 'pending');
  const others = devices.filter((d) => d.status !== 'pending');
  const newest = newestVersion(devices);
  const outdatedCount = devices.filter((d) => isOutdated(d, newest)).length;
  const reload = async (message: string): Promise<void> => {
    ctx.main.replaceChildren();
    await renderDevices(ctx);
    announce(message);
  };
  const act = (path: string, body: unknown, done: string) => () => {
    api('POST', path, body)
      .then(() => reload(done))
      .catch((err: unknown) => announce(messageOf(err), 'error'));
  };
  append(
    ctx.main,
    h('h1', {}, 'Devices'),
    newest === null
      ? null
      : h(
          'p',
          { id: 'agent-versions' },
          `Newest agent version seen: ${newest}. `,
          outdatedCount === 0
            ? 'Every device in service runs it.'
            : `${outdatedCount} ${outdatedCount === 1 ? 'device runs' : 'devices run'} an older version (marked “outdated” below).`,
        ),
    h('h2', {}, 'Waiting for approval'),
    pending.length === 0
      ? h('p', {}, 'No device is waiting.')
      : table(
          ['Device', 'Name', 'Agent version', 'Enrolled', ''],
          pending.map((d) => [
            idOf(d),
            d.hostname,
            versionCell(d, newest),
            shortDate(d.enrolledAt),
            h(
              'button',
              {
                type: 'button',
                class: 'primary',
                onclick: act(`/api/v1/admin/devices/${enc(idOf(d))}/approve`, {}, `Device ${idOf(d)} approved.`),
              },
              `Approve ${idOf(d)}`,
            ),
          ]),
          'Devices waiting for approval',
        ),
    h('h2', {}, 'All devices'),
    others.length === 0
      ? h('p', {}, 'No device yet.')
      : table(
          ['Device', 'Name', 'Status', 'Agent version', 'Users', 'Last seen', ''],
          others.map((d) => [
            idOf(d),
            d.hostname,
            d.status ?? '',
            versionCell(d, newest),
            d.status ?? '',
            d.users.join(', '),
            shortDate(d.lastSeenAt),
            d.status === 'revoked'
              ? ''
              : h(
                  'span',
                  { class: 'row-actions' },
                  h(
                    'button',
                    {
                      type: 'button',
                      onclick: () => {
                        void confirmDialog(
                          `Reset the offline data of ${idOf(d)}?`,
                          [
                            'The device retires its offline emergency codes and token windows for every user; fresh ones arrive at each user’s next online sign-in.',
                          ],
                          'Reset offline data',
                        ).then((ok) => {
                          if (ok)
                            act(
                              `/api/v1/admin/devices/${enc(idOf(d))}/reset-offline`,
                              {},
                              `Offline data of ${idOf(d)} reset.`,
                            )();
                        });
                      },
                    },
                    `Reset offline data of ${idOf(d)}`,
                  ),
                  h(
                    'button',
                    {
                      type: 'button',
                      class: 'danger',
                      onclick: () => {
                        void confirmDialog(
                          `Revoke ${idOf(d)}?`,
                          [
                            'The device gets a wipe order at its next sync and nothing else: no offline data, no logins.',
                          ],
                          'Revoke device',
                          true,
                        ).then((ok) => {
                          if (ok)
                            act(`/api/v1/admin/devices/${enc(idOf(d))}/revoke`, {}, `Device ${idOf(d)} revoked.`)();
                        });
                      },
                    },
                    `Revoke ${idOf(d)}`,
                  ),
                ),
          ]),
          'Registered devices',
        ),
  );
}
