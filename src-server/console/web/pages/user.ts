import type { DeviceSummary } from '../../../../src-shared/protocol/admin.js';
import type { UserOptions } from '../../schemas.js';
import { api, enc } from '../api.js';
import { confirmButton, confirmDialog, confirmThen, errorSlot, messageOf, modal, onSubmit } from '../dialogs.js';
import { announce, field, h, shortDate, table } from '../dom.js';
import type { PageContext, UserPageContext } from '../page-context.js';
import { qrSvg } from '../qr.js';
import { can } from '../session.js';
import type { AdminUser } from '../types.js';
import { emergencySection } from './emergency-codes.js';
import { temporaryCodeSection } from './temporary-code.js';

const userPath = (username: string): string => `/api/v1/admin/users/${enc(username)}`;

/** The user details page: everything the helpdesk procedures of the seeds need, one section each. */
export async function renderUser(ctx: PageContext, username: string): Promise<void> {
  const [user, options] = await Promise.all([
    api<AdminUser>('GET', userPath(username)),
    api<UserOptions>('GET', `/api/v1/admin/console/users/${enc(username)}/options`),
  ]);
  const reload = async (message?: string): Promise<void> => {
    ctx.main.replaceChildren();
    await renderUser(ctx, username);
    // The control that had focus is gone with the old content; start again at the page, the result is announced.
    ctx.main.focus();
    if (message) announce(message);
  };
  const uctx: UserPageContext = { ...ctx, user, options, reload };
  ctx.main.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/users' }, 'Users'), ' › ', user.username),
    h('h1', {}, user.displayName ? `${user.displayName} (${user.username})` : user.username),
    h(
      'dl',
      { class: 'summary' },
      h('dt', {}, 'Status'),
      h(
        'dd',
        {},
        h(
          'span',
          { class: `badge ${user.status}` },
          user.status === 'active' ? 'Active' : 'Inactive: no code can be issued or used',
        ),
      ),
      h('dt', {}, 'Policy'),
      h('dd', {}, user.policy),
      h('dt', {}, 'Token'),
      h('dd', {}, user.token ? `Enrolled ${shortDate(user.token.enrolledAt)}` : 'Not enrolled'),
      h('dt', {}, 'PIN'),
      h('dd', {}, user.hasPin ? 'Set' : 'Not set'),
      h('dt', {}, 'Sign-in lock'),
      h('dd', {}, lockText(user)),
      user.email ? h('dt', {}, 'Email') : null,
      user.email ? h('dd', {}, user.email) : null,
    ),
  );
  if (user.lock.locked && can(ctx.me, 'users.manage')) ctx.main.append(unlockSection(uctx));
  const tempSection = temporaryCodeSection(uctx);
  if (tempSection) ctx.main.append(tempSection);
  ctx.main.append(tokenSection(uctx));
  // PINs go with tokens (PUT …/pin needs tokens.manage); status and policy with users.manage.
  if (can(ctx.me, 'tokens.manage')) ctx.main.append(pinSection(uctx));
  if (can(ctx.me, 'users.manage')) ctx.main.append(accountSection(uctx));
  const emergency = emergencySection(uctx);
  if (emergency) ctx.main.append(emergency);
  ctx.main.append(await devicesSection(uctx));
}

function lockText(user: AdminUser): string {
  if (user.lock.lockedPermanently) return 'Locked until an administrator unlocks it';
  if (user.lock.locked && user.lock.lockedUntil !== null) return `Locked until ${shortDate(user.lock.lockedUntil)}`;
  return user.lock.failures > 0
    ? `Not locked (${user.lock.failures} recent failure${user.lock.failures === 1 ? '' : 's'})`
    : 'Not locked';
}

function section(id: string, title: string, ...children: (Node | null)[]): HTMLElement {
  const s = h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title));
  for (const c of children) if (c) s.append(c);
  return s;
}

function unlockSection(ctx: UserPageContext): HTMLElement {
  const button = h(
    'button',
    {
      type: 'button',
      class: 'primary',
      onclick: () => {
        api('POST', `${userPath(ctx.user.username)}/unlock`, {})
          .then(() => ctx.reload(`${ctx.user.username} is unlocked.`))
          .catch((err: unknown) => announce(messageOf(err), 'error'));
      },
    },
    'Unlock',
  );
  return section(
    'unlock-title',
    'Locked out',
    h('p', {}, 'Too many wrong codes locked this user out. Unlock once you have confirmed who is calling.'),
    button,
  );
}

function tokenSection(ctx: UserPageContext): HTMLElement {
  const { user, me } = ctx;
  const mayManage = can(me, 'tokens.manage');
  if (user.token) {
    const del = confirmButton(
      'Delete enrollment',
      {
        title: `Delete the token enrollment of ${user.username}?`,
        paragraphs: [
          'Do this when the device or token is lost or stolen, before you issue a temporary code.',
          `After you delete it, ${user.username} cannot sign in with this token any more — not even if the device turns up again. ` +
            'The only way back to the normal token is to enroll again.',
          'Workstations drop the offline data built from this token at their next sync. A temporary code issued earlier stays valid until it expires or is revoked.',
        ],
        confirmLabel: 'Delete enrollment',
        danger: true,
      },
      () =>
        api('DELETE', `${userPath(user.username)}/token`).then(() =>
          ctx.reload(`The token enrollment of ${user.username} is deleted.`),
        ),
    );
    return section(
      'token-title',
      'Token',
      h(
        'p',
        {},
        `Authenticator app (TOTP, ${user.token.algorithm}, ${user.token.digits} digits), enrolled ${shortDate(user.token.enrolledAt)}.`,
      ),
      mayManage ? h('div', { class: 'actions' }, del) : null,
    );
  }
  if (!ctx.options.enrollmentAllowed)
    return section(
      'token-title',
      'Token',
      h(
        'p',
        {},
        `No token. The policy “${user.policy}” does not allow enrolling one (temporary workers use temporary codes only).`,
      ),
    );
  const enroll = h(
    'button',
    { type: 'button', class: 'primary', onclick: () => void enrollToken(ctx) },
    'Enroll a token',
  );
  return section(
    'token-title',
    'Token',
    h('p', {}, 'No token enrolled.'),
    mayManage ? h('div', { class: 'actions' }, enroll) : null,
  );
}

async function enrollToken(ctx: UserPageContext): Promise<void> {
  let res: { otpauthUri?: string };
  try {
    res = await api<{ otpauthUri?: string }>('POST', `${userPath(ctx.user.username)}/token`, {});
  } catch (err) {
    announce(messageOf(err), 'error');
    return;
  }
  const uri = typeof res.otpauthUri === 'string' ? res.otpauthUri : '';
  res = {};
  const secret = new URL(uri).searchParams.get('secret') ?? '';
  await modal<true>(
    `Token for ${ctx.user.username}`,
    (close) => [
      h('p', {}, 'Have the user scan this code with their authenticator app now. It is shown only this once.'),
      h('div', { class: 'qr' }, qrSvg(uri, `QR code of the token for ${ctx.user.username}`)),
      h(
        'details',
        {},
        h('summary', {}, 'Key for typing in by hand'),
        h('p', { class: 'code small', 'data-secret': '' }, secret.replace(/(.{4})/g, '$1 ').trim()),
      ),
      h(
        'p',
        {},
        'After Done the QR code is gone and cannot be shown again; the user can sign in with the app right away.',
      ),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', class: 'primary', onclick: () => close(true) }, 'Done'),
      ),
    ],
    { wide: true },
  );
  await ctx.reload(`A token is enrolled for ${ctx.user.username}.`);
}

function pinSection(ctx: UserPageContext): HTMLElement {
  const { user } = ctx;
  const min = ctx.options.pinMinLength;
  const pin = h('input', {
    type: 'password',
    name: 'pin',
    autocomplete: 'new-password',
    required: true,
    minlength: min,
  });
  const again = h('input', {
    type: 'password',
    name: 'pin2',
    autocomplete: 'new-password',
    required: true,
    minlength: min,
  });
  const err = errorSlot();
  const form = h(
    'form',
    {},
    field(
      'New PIN',
      pin,
      `At least ${min} characters. Workstations rebuild their offline data with the new PIN at the next online sign-in.`,
    ),
    field('New PIN again', again),
    err.el,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, user.hasPin ? 'Reset PIN' : 'Set PIN')),
  );
  onSubmit(form, err, () => {
    if (pin.value !== again.value) {
      err.show('The two PINs differ.');
      return undefined;
    }
    const value = pin.value;
    pin.value = '';
    again.value = '';
    return api('PUT', `${userPath(user.username)}/pin`, { pin: value }).then(() =>
      ctx.reload(`The PIN of ${user.username} is set.`),
    );
  });
  return section('pin-title', 'PIN', form);
}

function accountSection(ctx: UserPageContext): HTMLElement {
  const { user } = ctx;
  const policy = h(
    'select',
    { name: 'policy' },
    ...ctx.options.policies.map((p) => h('option', { value: p, selected: p === user.policy }, p)),
  );
  const err = errorSlot();
  const form = h('form', { class: 'inline' }, field('Policy', policy), h('button', { type: 'submit' }, 'Save policy'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    api('PATCH', userPath(user.username), { policy: policy.value })
      .then(() => ctx.reload(`${user.username} now follows the policy ${policy.value}.`))
      .catch((error: unknown) => err.show(messageOf(error)));
  });
  const next = user.status === 'active' ? 'inactive' : 'active';
  const toggle = h(
    'button',
    {
      type: 'button',
      class: next === 'inactive' ? 'danger' : '',
      onclick: () => {
        const ask =
          next === 'inactive'
            ? confirmDialog(
                `Deactivate ${user.username}?`,
                [
                  'An inactive user gets nothing online: no code can be issued, and none of their codes verifies. Workstations learn it at their next sync.',
                ],
                'Deactivate',
                true,
              )
            : Promise.resolve(true);
        void ask.then((ok) => {
          if (!ok) return;
          api('PATCH', userPath(user.username), { status: next })
            .then(() => ctx.reload(`${user.username} is now ${next}.`))
            .catch((error: unknown) => err.show(messageOf(error)));
        });
      },
    },
    next === 'inactive' ? 'Deactivate user' : 'Activate user',
  );
  return section('account-title', 'Account', form, h('div', { class: 'actions' }, toggle), err.el);
}

async function devicesSection(ctx: UserPageContext): Promise<HTMLElement> {
  let devices: DeviceSummary[];
  try {
    // The device list has no user filter: the user's devices are those that received their offline data.
    const body = await api<{ devices: DeviceSummary[] }>('GET', '/api/v1/admin/devices');
    devices = body.devices.filter((d) => d.users.includes(ctx.user.username));
  } catch (err) {
    return section('devices-title', 'Devices', h('p', {}, messageOf(err)));
  }
  if (devices.length === 0)
    return section('devices-title', 'Devices', h('p', {}, 'No workstation holds offline data for this user.'));
  const mayReset = can(ctx.me, 'devices.manage');
  const reset = (d: DeviceSummary) => () =>
    confirmThen(
      {
        title: `Reset the offline data of ${ctx.user.username} on ${d.hostname}?`,
        paragraphs: [
          'The workstation retires this user’s offline emergency codes; fresh ones arrive at the user’s next online sign-in there.',
        ],
        confirmLabel: 'Reset offline data',
      },
      () =>
        api('POST', `/api/v1/admin/devices/${enc(d.deviceId)}/reset-offline`, { username: ctx.user.username }).then(
          () => announce(`The offline data of ${ctx.user.username} on ${d.hostname} is reset.`),
        ),
    );
  return section(
    'devices-title',
    'Devices',
    table(
      ['Device', 'Name', 'Status', 'Last seen', ''],
      devices.map((d) => [
        d.deviceId,
        d.hostname,
        d.status,
        shortDate(d.lastSeenAt),
        mayReset && d.status !== 'revoked'
          ? h('button', { type: 'button', onclick: reset(d) }, `Reset offline data on ${d.hostname}`)
          : '',
      ]),
      'Workstations with offline data for this user (manage them under Devices)',
    ),
  );
}
