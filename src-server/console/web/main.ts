import { api, hasCsrfToken, installHooks, PATHS, setCsrfToken } from './api.js';
import { errorSlot, messageOf, onSubmit, stepUpDialog } from './dialogs.js';
import { announce, clear, field, h } from './dom.js';
import type { PageContext } from './page-context.js';
import { can, loadMe, type Me, type Permission } from './session.js';
import { renderAudit } from './pages/audit.js';
import { renderAdmins } from './pages/admins.js';
import { renderClients } from './pages/clients.js';
import { renderDevices } from './pages/devices.js';
import { renderEmergencyAccess } from './pages/emergency-access.js';
import { renderRadiusClients } from './pages/radius-clients.js';
import { renderRoles } from './pages/roles.js';
import { renderSettings } from './pages/settings.js';
import { renderUser } from './pages/user.js';
import { renderUsers } from './pages/users.js';

interface Route {
  path: RegExp;
  title: string;
  /** Shown in the main navigation under this name, linking to `href`. */
  nav?: { label: string; href: string };
  permission?: Permission;
  render(ctx: PageContext, ...params: string[]): Promise<void>;
}

const routes: Route[] = [
  { path: /^#\/users$/, title: 'Users', nav: { label: 'Users', href: '#/users' }, render: renderUsers },
  {
    path: /^#\/users\/([^/]+)$/,
    title: 'User',
    render: (ctx, name) => renderUser(ctx, decodeURIComponent(name ?? '')),
  },
  {
    path: /^#\/emergency-access$/,
    title: 'Offline emergency access',
    nav: { label: 'Offline emergency access', href: '#/emergency-access' },
    permission: 'offline.reveal',
    render: renderEmergencyAccess,
  },
  {
    path: /^#\/audit$/,
    title: 'Audit',
    nav: { label: 'Audit', href: '#/audit' },
    permission: 'audit.read',
    render: renderAudit,
  },
  {
    path: /^#\/admin\/settings$/,
    title: 'Settings and policies',
    nav: { label: 'Settings', href: '#/admin/settings' },
    permission: 'settings.manage',
    render: renderSettings,
  },
  {
    path: /^#\/admin\/roles$/,
    title: 'Roles',
    nav: { label: 'Roles', href: '#/admin/roles' },
    permission: 'roles.manage',
    render: renderRoles,
  },
  {
    path: /^#\/admin\/admins$/,
    title: 'Administrators',
    nav: { label: 'Administrators', href: '#/admin/admins' },
    permission: 'roles.manage',
    render: renderAdmins,
  },
  {
    path: /^#\/admin\/clients$/,
    title: 'API clients',
    nav: { label: 'API clients', href: '#/admin/clients' },
    permission: 'clients.manage',
    render: renderClients,
  },
  {
    path: /^#\/admin\/radius-clients$/,
    title: 'RADIUS clients',
    nav: { label: 'RADIUS clients', href: '#/admin/radius-clients' },
    permission: 'clients.manage',
    render: renderRadiusClients,
  },
  {
    path: /^#\/admin\/devices$/,
    title: 'Devices',
    nav: { label: 'Devices', href: '#/admin/devices' },
    permission: 'devices.manage',
    render: renderDevices,
  },
];

const root = document.getElementById('app') as HTMLElement;
let me: Me | null = null;
let idleDeadline = 0;
let idleTimer: number | undefined;

installHooks({
  stepUp: stepUpDialog,
  signedOut: (reason) => signOutLocally(reason),
  activity: () => {
    if (me) idleDeadline = Date.now() + me.idleTimeoutMinutes * 60_000;
    updateIdleText();
  },
});

function signOutLocally(reason: string): void {
  setCsrfToken(null);
  me = null;
  window.clearInterval(idleTimer);
  for (const d of Array.from(document.querySelectorAll('dialog'))) d.remove();
  history.replaceState(null, '', '#/');
  renderSignIn(reason);
}

function renderSignIn(message?: string): void {
  document.title = 'Sign in · Lifeline console';
  clear(root);
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, autofocus: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const otp = h('input', {
    name: 'otp',
    inputmode: 'numeric',
    autocomplete: 'one-time-code',
    required: true,
    pattern: '[0-9 ]{6,9}',
  });
  const err = errorSlot();
  if (message) err.show(message);
  const form = h(
    'form',
    { class: 'card signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Lifeline helpdesk console'),
    field('Administrator name', username),
    field('Password', password),
    field('Authenticator code', otp, 'The 6-digit code from your authenticator app.'),
    err.el,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Sign in')),
  );
  onSubmit(
    form,
    err,
    () =>
      api<{ csrfToken?: string }>(
        'POST',
        PATHS.consoleSession,
        { username: username.value, password: password.value, otp: otp.value.replace(/\s/g, '') },
        { noSignOut: true },
      ).then(async (res) => {
        password.value = '';
        if (typeof res.csrfToken !== 'string') throw new Error('no CSRF token');
        setCsrfToken(res.csrfToken);
        await startSession();
      }),
    () => {
      password.value = '';
      otp.value = '';
      username.focus();
    },
  );
  root.append(
    h('main', { id: 'main', class: 'signin-page' }, form),
    h('div', { id: 'status', role: 'status', class: 'status' }),
  );
  username.focus();
}

async function startSession(): Promise<void> {
  me = await loadMe();
  idleDeadline = Date.now() + me.idleTimeoutMinutes * 60_000;
  window.clearInterval(idleTimer);
  idleTimer = window.setInterval(() => {
    if (me && Date.now() > idleDeadline)
      signOutLocally(`You were signed out after ${me.idleTimeoutMinutes} minutes without activity.`);
  }, 10_000);
  if (!location.hash || location.hash === '#/') history.replaceState(null, '', '#/users');
  renderShell();
  await route();
}

function updateIdleText(): void {
  const el = document.getElementById('idle');
  if (!el || !me) return;
  const at = new Date(idleDeadline).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  el.textContent = `Idle sign-out after ${me.idleTimeoutMinutes} min (at ${at})`;
}

function renderShell(): void {
  if (!me) return;
  const current = me;
  clear(root);
  const links = routes.flatMap((r) =>
    r.nav && (!r.permission || can(current, r.permission))
      ? [h('li', {}, h('a', { href: r.nav.href }, r.nav.label))]
      : [],
  );
  const signOut = h(
    'button',
    {
      type: 'button',
      class: 'link',
      onclick: () => {
        api('DELETE', PATHS.consoleSession, undefined, { noSignOut: true })
          .catch(() => undefined)
          .finally(() => signOutLocally('You have signed out.'));
      },
    },
    'Sign out',
  );
  root.append(
    h(
      'a',
      {
        class: 'skip',
        href: '#main',
        onclick: (e: Event) => {
          e.preventDefault();
          document.getElementById('main')?.focus();
        },
      },
      'Skip to content',
    ),
    h(
      'header',
      { class: 'top' },
      h('span', { class: 'brand' }, 'Lifeline'),
      h('nav', { 'aria-label': 'Main' }, h('ul', {}, ...links)),
      h(
        'div',
        { class: 'who' },
        h('span', {}, `Signed in as ${current.username}`),
        h('span', { id: 'idle', class: 'idle' }),
        signOut,
      ),
    ),
    h('main', { id: 'main', tabindex: '-1' }),
    h('p', { class: 'visually-hidden' }, 'Press / to search users.'),
    h('div', { id: 'status', role: 'status', 'aria-live': 'polite', class: 'status' }),
  );
  updateIdleText();
}

async function route(): Promise<void> {
  if (!me) return;
  const main = document.getElementById('main') as HTMLElement;
  for (const r of routes) {
    const m = r.path.exec(location.hash);
    if (!m) continue;
    clear(main);
    announce('');
    for (const a of Array.from(document.querySelectorAll('nav a'))) {
      if (a.getAttribute('href') === location.hash || (r.title === 'User' && a.getAttribute('href') === '#/users'))
        a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    if (r.permission && !can(me, r.permission)) {
      document.title = 'Not allowed · Lifeline console';
      main.append(
        h('h1', {}, 'Not allowed'),
        h('p', {}, 'Your administrator role does not include this page. Contact your Lifeline administrator.'),
      );
      return;
    }
    document.title = `${r.title} · Lifeline console`;
    try {
      await r.render(
        {
          me,
          main,
          navigate: (hash) => {
            location.hash = hash;
          },
        },
        ...m.slice(1),
      );
    } catch (error) {
      main.append(h('p', { class: 'form-error', role: 'alert' }, messageOf(error)));
    }
    // A page may put focus where work starts (the search field); otherwise the new content gets it.
    if (!main.contains(document.activeElement)) main.focus();
    return;
  }
  location.hash = '#/users';
}

// Keyboard-first: "/" jumps to the user search from anywhere (unless the admin is typing or a dialog is open).
document.addEventListener('keydown', (e) => {
  if (e.key !== '/' || !me || e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target as HTMLElement | null;
  if (t?.closest('input, textarea, select, [contenteditable], dialog')) return;
  e.preventDefault();
  if (location.hash !== '#/users') location.hash = '#/users';
  else document.querySelector<HTMLInputElement>('input[type="search"]')?.focus();
});

window.addEventListener('hashchange', () => {
  if (me && hasCsrfToken()) void route();
});

// A reload loses the in-memory CSRF token, so it always starts at sign-in: nothing about the session is stored.
renderSignIn();
