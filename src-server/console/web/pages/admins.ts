import { api, enc } from '../api.js';
import { errorSlot, messageOf, modal, onSubmit } from '../dialogs.js';
import { announce, field, h, table } from '../dom.js';
import type { PageContext } from '../page-context.js';
import { qrSvg } from '../qr.js';

interface AdminEntry {
  username: string;
  roles: string[];
  status: string;
}

/** Administrators and their roles; a new admin's TOTP enrollment is shown once as a QR code. */
export async function renderAdmins(ctx: PageContext): Promise<void> {
  const [adminsBody, rolesBody] = await Promise.all([
    api<{ admins: AdminEntry[] }>('GET', '/api/v1/admin/admins'),
    api<{ roles: { name: string }[] }>('GET', '/api/v1/admin/roles'),
  ]);
  const admins = adminsBody.admins;
  const roleNames = rolesBody.roles.map((r) => r.name);
  ctx.main.append(
    h('h1', {}, 'Administrators'),
    table(
      ['Administrator', 'Roles', 'Status', ''],
      admins.map((a) => [
        a.username,
        a.roles.join(', '),
        a.status,
        a.username === ctx.me.username ? 'you' : statusButton(ctx, a),
      ]),
      'Administrators of this console',
    ),
    newAdminForm(ctx, roleNames),
  );
}

function statusButton(ctx: PageContext, a: AdminEntry): HTMLElement {
  const next = a.status === 'disabled' ? 'active' : 'disabled';
  return h(
    'button',
    {
      type: 'button',
      class: next === 'disabled' ? 'danger' : '',
      onclick: () => {
        api('PATCH', `/api/v1/admin/admins/${enc(a.username)}`, { status: next })
          .then(() => {
            announce(`${a.username} is ${next}.`);
            ctx.main.replaceChildren();
            return renderAdmins(ctx);
          })
          .catch((err: unknown) => announce(messageOf(err), 'error'));
      },
    },
    next === 'disabled' ? `Disable ${a.username}` : `Enable ${a.username}`,
  );
}

function newAdminForm(ctx: PageContext, roleNames: string[]): HTMLElement {
  const username = h('input', { name: 'username', required: true, autocomplete: 'off' });
  const password = h('input', {
    name: 'password',
    type: 'password',
    required: true,
    minlength: 12,
    autocomplete: 'new-password',
  });
  const boxes = roleNames.map((r) =>
    h('input', { type: 'checkbox', id: `new-admin-role-${r.replace(/[^a-z0-9]+/gi, '-')}`, value: r }),
  );
  const err = errorSlot();
  const form = h(
    'form',
    { class: 'card', 'aria-labelledby': 'new-admin-title' },
    h('h2', { id: 'new-admin-title' }, 'Add an administrator'),
    field('Name', username),
    field('Initial password', password, 'At least 12 characters; hand it over in person.'),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Roles'),
      ...boxes.map((b) => h('div', { class: 'check' }, b, h('label', { for: b.id }, b.value))),
    ),
    err.el,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Add administrator')),
  );
  onSubmit(form, err, () => {
    const body = {
      username: username.value.trim(),
      password: password.value,
      roles: boxes.filter((b) => b.checked).map((b) => b.value),
    };
    password.value = '';
    return api<{ otpauthUri?: string }>('POST', '/api/v1/admin/admins', body).then(async (res) => {
      if (typeof res.otpauthUri === 'string') {
        const uri = res.otpauthUri;
        res.otpauthUri = '';
        await modal<true>(
          `Authenticator for ${body.username}`,
          (close) => [
            h(
              'p',
              {},
              'The new administrator scans this with their authenticator app now. It is shown only this once.',
            ),
            h('div', { class: 'qr' }, qrSvg(uri, `QR code of the authenticator for ${body.username}`)),
            h(
              'div',
              { class: 'actions' },
              h('button', { type: 'button', class: 'primary', onclick: () => close(true) }, 'Done'),
            ),
          ],
          { wide: true },
        );
      }
      announce(`${body.username} added.`);
      ctx.main.replaceChildren();
      await renderAdmins(ctx);
    });
  });
  return form;
}
