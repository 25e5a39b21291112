import { api, enc } from '../api.js';
import { confirmButton, errorSlot, onSubmit } from '../dialogs.js';
import { announce, field, h } from '../dom.js';
import type { PageContext } from '../page-context.js';
import type { Permission } from '../session.js';

export const PERMISSIONS: { key: Permission; label: string }[] = [
  { key: 'users.manage', label: 'Manage users (add, status, policy, PIN, unlock)' },
  { key: 'tokens.manage', label: 'Enroll and delete tokens' },
  { key: 'codes.issue', label: 'Generate temporary and emergency codes' },
  { key: 'codes.revoke', label: 'Revoke temporary codes' },
  { key: 'offline.reveal', label: 'Reveal offline emergency codes' },
  { key: 'devices.manage', label: 'Approve, revoke and reset devices' },
  { key: 'audit.read', label: 'Read and export the audit log' },
  { key: 'clients.manage', label: 'Manage API clients' },
  { key: 'settings.manage', label: 'Change settings and policies (incl. enabling temporary codes)' },
  { key: 'roles.manage', label: 'Manage roles and administrators' },
];

interface Role {
  name: string;
  builtin: boolean;
  permissions: string[];
}

/** Roles: built-in ones are shown read-only; custom ones are sets of permissions. */
export async function renderRoles(ctx: PageContext): Promise<void> {
  const { roles } = await api<{ roles: Role[] }>('GET', '/api/v1/admin/roles');
  ctx.main.append(h('h1', {}, 'Roles'));
  for (const role of roles) ctx.main.append(roleForm(ctx, role));
  ctx.main.append(roleForm(ctx, null));
}

function roleForm(ctx: PageContext, role: Role | null): HTMLElement {
  const slug = role ? role.name.replace(/[^a-z0-9]+/gi, '-') : 'new';
  const readOnly = role?.builtin ?? false;
  const name = h('input', { name: 'name', required: true, autocomplete: 'off' });
  const boxes = PERMISSIONS.map((p) => ({
    p,
    box: h('input', {
      type: 'checkbox',
      id: `role-${slug}-${p.key}`,
      name: p.key,
      checked: role?.permissions.includes(p.key) ?? false,
      disabled: readOnly,
    }),
  }));
  const err = errorSlot();
  const form = h(
    'form',
    { class: 'card', 'aria-labelledby': `role-${slug}-title` },
    h('h2', { id: `role-${slug}-title` }, role ? `${role.name}${readOnly ? ' (built in)' : ''}` : 'New role'),
    role ? null : field('Role name', name),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Permissions'),
      ...boxes.map(({ p, box }) => h('div', { class: 'check' }, box, h('label', { for: box.id }, p.label))),
    ),
    err.el,
  );
  if (!readOnly) {
    const actions = h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit', class: role ? '' : 'primary' }, role ? `Save role ${role.name}` : 'Create role'),
    );
    if (role)
      actions.append(
        confirmButton(
          'Delete role',
          {
            title: `Delete the role ${role.name}?`,
            paragraphs: ['Administrators holding it lose its permissions at their next request.'],
            confirmLabel: 'Delete role',
            danger: true,
          },
          () =>
            api('DELETE', `/api/v1/admin/roles/${enc(role.name)}`).then(() => {
              announce(`Role ${role.name} deleted.`);
              ctx.main.replaceChildren();
              return renderRoles(ctx);
            }),
          err.show,
        ),
      );
    form.append(actions);
  }
  onSubmit(form, err, () => {
    const permissions = boxes.filter(({ box }) => box.checked).map(({ p }) => p.key);
    const req = role
      ? api('PATCH', `/api/v1/admin/roles/${enc(role.name)}`, { permissions })
      : api('POST', '/api/v1/admin/roles', { name: name.value.trim(), permissions });
    return req.then(() => {
      announce(role ? `Role ${role.name} saved.` : `Role ${name.value.trim()} created.`);
      ctx.main.replaceChildren();
      return renderRoles(ctx);
    });
  });
  return form;
}
