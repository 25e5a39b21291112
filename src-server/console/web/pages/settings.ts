import { api } from '../api.js';
import { errorSlot, messageOf } from '../dialogs.js';
import { announce, field, h } from '../dom.js';
import type { PageContext } from '../main.js';

interface PolicyEntry {
  name: string;
  isDefault: boolean;
  users: number;
  policy: unknown;
}

const TOGGLES = [
  { key: 'temporaryCodesEnabled', label: 'Allow temporary codes', hint: 'Off by default. While off, no temporary code can be generated for anyone.' },
  { key: 'offlineEnabled', label: 'Allow offline access', hint: 'Workstations download offline validation data for users whose policy allows it.' },
  { key: 'emergencyCodesEnabled', label: 'Allow emergency code sets', hint: 'Sets of one-time codes an administrator issues for online use.' },
] as const;

/** Enterprise settings (the toggles) and the policies users are assigned to. */
export async function renderSettings(ctx: PageContext): Promise<void> {
  const body = await api<{ settings: Record<string, unknown>; policies: PolicyEntry[] }>('GET', '/api/v1/admin/settings');
  const { settings, policies } = body;
  ctx.main.append(h('h1', {}, 'Settings and policies'), enterpriseForm(ctx, settings));
  for (const p of policies) ctx.main.append(policyForm(ctx, p));
  ctx.main.append(newPolicyForm(ctx));
}

function enterpriseForm(ctx: PageContext, settings: Record<string, unknown>): HTMLElement {
  const boxes = TOGGLES.map((t) => ({ t, box: h('input', { type: 'checkbox', id: `set-${t.key}`, name: t.key, checked: settings[t.key] === true, 'aria-describedby': `set-${t.key}-hint` }) }));
  const err = errorSlot();
  const form = h(
    'form',
    { class: 'card', 'aria-labelledby': 'enterprise-title' },
    h('h2', { id: 'enterprise-title' }, 'Enterprise'),
    ...boxes.map(({ t, box }) => h('div', { class: 'check' }, box, h('label', { for: box.id }, t.label), h('p', { class: 'hint', id: `${box.id}-hint` }, t.hint))),
    err.el,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save settings')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    err.clear();
    const next: Record<string, boolean> = {};
    for (const { t, box } of boxes) next[t.key] = box.checked;
    api('PATCH', '/api/v1/admin/settings', { settings: next })
      .then(() => {
        announce('Settings saved.');
        ctx.navigate('#/admin/settings');
      })
      .catch((error: unknown) => err.show(messageOf(error)));
  });
  return form;
}

function policyForm(ctx: PageContext, entry: PolicyEntry): HTMLElement {
  const id = `policy-${entry.name.replace(/[^a-z0-9]+/gi, '-')}`;
  const text = h('textarea', { name: 'policy', rows: 18, spellcheck: 'false', class: 'json' });
  text.value = JSON.stringify(entry.policy, null, 2);
  const err = errorSlot();
  const form = h(
    'form',
    { class: 'card', 'aria-labelledby': `${id}-title` },
    h('h2', { id: `${id}-title` }, `Policy “${entry.name}”${entry.isDefault ? ' (default)' : ''}`),
    h('p', { class: 'hint' }, `${entry.users} user${entry.users === 1 ? '' : 's'} follow this policy.`),
    field('Policy (JSON)', text, 'Temporary code lifetimes are in minutes. The server checks every value against the policy rules.'),
    err.el,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, `Save policy ${entry.name}`)),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    err.clear();
    let policy: unknown;
    try {
      policy = JSON.parse(text.value);
    } catch {
      err.show('This is not valid JSON.');
      return;
    }
    api('PATCH', '/api/v1/admin/settings', { policies: { [entry.name]: policy } })
      .then(() => announce(`Policy ${entry.name} saved.`))
      .catch((error: unknown) => err.show(messageOf(error)));
  });
  return form;
}

function newPolicyForm(ctx: PageContext): HTMLElement {
  const name = h('input', { name: 'name', required: true, autocomplete: 'off' });
  const err = errorSlot();
  const form = h(
    'form',
    { class: 'card inline', 'aria-labelledby': 'new-policy-title' },
    h('h2', { id: 'new-policy-title' }, 'New policy'),
    field('Name', name, 'Starts with the defaults; edit it after it is created (for example: contractors, without enrollment).'),
    err.el,
    h('button', { type: 'submit' }, 'Create policy'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    api('PATCH', '/api/v1/admin/settings', { policies: { [name.value.trim()]: {} } })
      .then(() => {
        announce(`Policy ${name.value.trim()} created.`);
        ctx.main.replaceChildren();
        return renderSettings(ctx);
      })
      .catch((error: unknown) => err.show(messageOf(error)));
  });
  return form;
}
