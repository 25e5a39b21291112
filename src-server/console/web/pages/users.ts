import { api, enc } from '../api.js';
import { errorSlot, messageOf, onSubmit } from '../dialogs.js';
import { announce, clear, field, h, shortDate, table } from '../dom.js';
import type { PageContext } from '../page-context.js';
import { can } from '../session.js';
import type { AdminUser } from '../types.js';

function state(u: AdminUser): string {
  const parts = [u.token ? 'token' : 'no token'];
  if (u.temporaryCode) parts.push(`temporary code until ${shortDate(u.temporaryCode.expiresAt)}`);
  if (u.lock.locked) parts.push('locked');
  return parts.join(', ');
}

/** Users: find someone by name (the first step of every helpdesk procedure), and add users. */
export async function renderUsers(ctx: PageContext): Promise<void> {
  const q = h('input', { type: 'search', name: 'q', autocomplete: 'off', placeholder: 'name or part of it' });
  const results = h('div', { class: 'results' });
  const search = async (): Promise<void> => {
    const { users } = await api<{ users: AdminUser[] }>('GET', `/api/v1/admin/users?q=${enc(q.value.trim())}`);
    clear(results);
    if (users.length === 0) {
      results.append(h('p', {}, 'No user matches.'));
      return;
    }
    results.append(
      table(
        ['User', 'Name', 'Status', 'Policy', 'Second factor'],
        users.map((u) => [
          h('a', { href: `#/users/${enc(u.username)}` }, u.username),
          u.displayName ?? '',
          u.status,
          u.policy,
          state(u),
        ]),
        `${users.length} user${users.length === 1 ? '' : 's'}`,
      ),
    );
  };
  const form = h(
    'form',
    { role: 'search', class: 'inline' },
    field('Find a user', q),
    h('button', { type: 'submit', class: 'primary' }, 'Search'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    search().catch((err: unknown) => announce(messageOf(err), 'error'));
  });
  ctx.main.append(h('h1', {}, 'Users'), form, results);
  if (can(ctx.me, 'users.manage')) ctx.main.append(newUserForm(ctx));
  await search();
  q.focus();
}

function newUserForm(ctx: PageContext): HTMLElement {
  const username = h('input', { name: 'username', required: true, autocomplete: 'off' });
  const displayName = h('input', { name: 'displayName', autocomplete: 'off' });
  const email = h('input', { name: 'email', type: 'email', autocomplete: 'off' });
  const err = errorSlot();
  const form = h(
    'form',
    { class: 'card', 'aria-labelledby': 'new-user-title' },
    h('h2', { id: 'new-user-title' }, 'Add a user'),
    field('Username', username),
    field('Display name (optional)', displayName),
    field('Email for notifications (optional)', email),
    err.el,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Add user')),
  );
  onSubmit(form, err, () => {
    const body: Record<string, string> = { username: username.value.trim() };
    if (displayName.value.trim()) body.displayName = displayName.value.trim();
    if (email.value.trim()) body.email = email.value.trim();
    return api<{ username?: string }>('POST', '/api/v1/admin/users', body).then((res) => {
      announce(`User ${res.username ?? body.username} added.`);
      ctx.navigate(`#/users/${enc(res.username ?? body.username ?? '')}`);
    });
  });
  return form;
}
