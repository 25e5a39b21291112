import { api, enc } from '../api.js';
import { confirmDialog, messageOf } from '../dialogs.js';
import { announce, h, shortDate, table } from '../dom.js';
import type { PageContext } from '../main.js';
import type { DeviceSummary } from '../../../../src-shared/protocol/admin.js';

type DeviceEntry = DeviceSummary;
const idOf = (d: DeviceEntry): string => d.deviceId;

/** Workstations: approve pending ones (before they receive offline data), revoke, and reset offline data. */
export async function renderDevices(ctx: PageContext): Promise<void> {
  const { devices } = await api<{ devices: DeviceEntry[] }>('GET', '/api/v1/admin/devices');
  const pending = devices.filter((d) => d.status === 'pending');
  const others = devices.filter((d) => d.status !== 'pending');
  const reload = async (message: string): Promise<void> => {
    ctx.main.replaceChildren();
    await renderDevices(ctx);
    announce(message);
  };
  const act = (path: string, body: unknown, done: string) => () => {
    api('POST', path, body).then(() => reload(done)).catch((err: unknown) => announce(messageOf(err), 'error'));
  };
  ctx.main.append(
    h('h1', {}, 'Devices'),
    h('h2', {}, 'Waiting for approval'),
    pending.length === 0
      ? h('p', {}, 'No device is waiting.')
      : table(
          ['Device', 'Name', 'Enrolled', ''],
          pending.map((d) => [idOf(d), d.hostname, shortDate(d.enrolledAt), h('button', { type: 'button', class: 'primary', onclick: act(`/api/v1/admin/devices/${enc(idOf(d))}/approve`, {}, `Device ${idOf(d)} approved.`) }, `Approve ${idOf(d)}`)]),
          'Devices waiting for approval',
        ),
    h('h2', {}, 'All devices'),
    others.length === 0
      ? h('p', {}, 'No device yet.')
      : table(
          ['Device', 'Name', 'Status', 'Users', 'Last seen', ''],
          others.map((d) => [
            idOf(d),
            d.hostname,
            d.status ?? '',
            d.users.join(', '),
            shortDate(d.lastSeenAt),
            d.status === 'revoked'
              ? ''
              : h('span', { class: 'row-actions' },
                  h('button', {
                    type: 'button',
                    onclick: () => {
                      void confirmDialog(`Reset the offline data of ${idOf(d)}?`, ['The device retires its offline emergency codes and token windows for every user; fresh ones arrive at each user’s next online sign-in.'], 'Reset offline data').then((ok) => {
                        if (ok) act(`/api/v1/admin/devices/${enc(idOf(d))}/reset-offline`, {}, `Offline data of ${idOf(d)} reset.`)();
                      });
                    },
                  }, `Reset offline data of ${idOf(d)}`),
                  h('button', {
                    type: 'button',
                    class: 'danger',
                    onclick: () => {
                      void confirmDialog(`Revoke ${idOf(d)}?`, ['The device gets a wipe order at its next sync and nothing else: no offline data, no logins.'], 'Revoke device', true).then((ok) => {
                        if (ok) act(`/api/v1/admin/devices/${enc(idOf(d))}/revoke`, {}, `Device ${idOf(d)} revoked.`)();
                      });
                    },
                  }, `Revoke ${idOf(d)}`)),
          ]),
          'Registered devices',
        ),
  );
}
