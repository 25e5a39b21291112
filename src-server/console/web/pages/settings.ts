import { api } from '../api.js';
import { errorSlot, messageOf, onSubmit } from '../dialogs.js';
import { announce, field, h } from '../dom.js';
import { lifetimeControl } from '../lifetime.js';
import type { PageContext } from '../page-context.js';

interface PolicyEntry {
  name: string;
  isDefault: boolean;
  users: number;
  policy: unknown;
}

const TOGGLES = [
  {
    key: 'temporaryCodesEnabled',
    label: 'Allow temporary codes',
    hint: 'Off by default. While off, no temporary code can be generated for anyone.',
  },
  {
    key: 'offlineEnabled',
    label: 'Allow offline access',
    hint: 'Workstations download offline validation data for users whose policy allows it.',
  },
  {
    key: 'emergencyCodesEnabled',
    label: 'Allow emergency code sets',
    hint: 'Sets of one-time codes an administrator issues for online use.',
  },
] as const;

/** Enterprise settings (the toggles) and the policies users are assigned to. */
export async function renderSettings(ctx: PageContext): Promise<void> {
  const body = await api<{ settings: Record<string, unknown>; policies: PolicyEntry[] }>(
    'GET',
    '/api/v1/admin/settings',
  );
  const { settings, policies } = body;
  ctx.main.append(h('h1', {}, 'Settings and policies'), enterpriseForm(ctx, settings));
  for (const p of policies) ctx.main.append(policyForm(p));
  ctx.main.append(newPolicyForm(ctx));
}

function enterpriseForm(ctx: PageContext, settings: Record<string, unknown>): HTMLElement {
  const boxes = TOGGLES.map((t) => ({
    t,
    box: h('input', {
      type: 'checkbox',
      id: `set-${t.key}`,
      name: t.key,
      checked: settings[t.key] === true,
      'aria-describedby': `set-${t.key}-hint`,
    }),
  }));
  const err = errorSlot();
  const form = h(
    'form',
    { class: 'card', 'aria-labelledby': 'enterprise-title' },
    h('h2', { id: 'enterprise-title' }, 'Enterprise'),
    ...boxes.map(({ t, box }) =>
      h(
        'div',
        { class: 'check' },
        box,
        h('label', { for: box.id }, t.label),
        h('p', { class: 'hint', id: `${box.id}-hint` }, t.hint),
      ),
    ),
    err.el,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save settings')),
  );
  onSubmit(form, err, () => {
    const next: Record<string, boolean> = {};
    for (const { t, box } of boxes) next[t.key] = box.checked;
    return api('PATCH', '/api/v1/admin/settings', { settings: next }).then(() => {
      announce('Settings saved.');
      ctx.navigate('#/admin/settings');
    });
  });
  return form;
}

interface PolicyShape {
  temporaryCodes: {
    allowed: boolean;
    minLifetimeMinutes: number;
    maxLifetimeMinutes: number;
    defaultLifetimeMinutes: number;
    multiUseAllowed: boolean;
    pinRequired: boolean;
    revokeOnTokenSuccess: boolean;
  };
  enrollmentAllowed: boolean;
  pin: { required: boolean; minLength: number };
  offline: { allowed: boolean; days: number };
}

/**
 * One policy: the choices the seeds talk about as labelled controls (temporary codes, enrollment, PIN, offline),
 * everything else as JSON below them. Saving sends the JSON with the controls' values written over it; the server
 * validates the whole policy.
 */
function policyForm(entry: PolicyEntry): HTMLElement {
  const slug = entry.name.replace(/[^a-z0-9]+/gi, '-');
  const id = `policy-${slug}`;
  const p = entry.policy as PolicyShape;
  const t = p.temporaryCodes;
  const check = (label: string, checked: boolean) => {
    const box = h('input', {
      type: 'checkbox',
      id: `${id}-${label.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`,
      checked,
    });
    return { box, el: h('div', { class: 'check' }, box, h('label', { for: box.id }, label)) };
  };
  const tempAllowed = check('Temporary codes allowed for users of this policy', t.allowed);
  const minL = lifetimeControl('Shortest lifetime', t.minLifetimeMinutes);
  const defL = lifetimeControl('Default lifetime', t.defaultLifetimeMinutes);
  const maxL = lifetimeControl('Longest lifetime', t.maxLifetimeMinutes);
  const multi = check('Multi-use codes allowed', t.multiUseAllowed);
  const tempPin = check('PIN needed with a temporary code', t.pinRequired);
  const revoke = check('Revoke the temporary code when the user next succeeds with the token', t.revokeOnTokenSuccess);
  const enroll = check('Users may enroll a token (off for temporary workers)', p.enrollmentAllowed);
  const pinRequired = check('PIN required', p.pin.required);
  const pinMin = h('input', { type: 'number', min: 4, max: 64, value: p.pin.minLength, class: 'short' });
  const offline = check('Offline access allowed', p.offline.allowed);
  const offlineDays = h('input', { type: 'number', min: 1, max: 30, value: p.offline.days, class: 'short' });
  const text = h('textarea', { name: 'policy', rows: 12, spellcheck: 'false', class: 'json' });
  text.value = JSON.stringify(entry.policy, null, 2);
  const err = errorSlot();
  const labelled = (label: string, control: { el: HTMLElement }) =>
    h('div', { class: 'field' }, h('span', { class: 'label', 'aria-hidden': 'true' }, label), control.el);
  const form = h(
    'form',
    { class: 'card', 'aria-labelledby': `${id}-title` },
    h('h2', { id: `${id}-title` }, `Policy “${entry.name}”${entry.isDefault ? ' (default)' : ''}`),
    h(
      'p',
      { class: 'hint' },
      entry.users === 1 ? '1 user follows this policy.' : `${entry.users} users follow this policy.`,
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Temporary codes'),
      tempAllowed.el,
      h(
        'div',
        { class: 'grid' },
        labelled('Shortest lifetime', minL),
        labelled('Default lifetime', defL),
        labelled('Longest lifetime (at most 30 days)', maxL),
      ),
      multi.el,
      tempPin.el,
      revoke.el,
    ),
    h('fieldset', {}, h('legend', {}, 'Enrollment and PIN'), enroll.el, pinRequired.el, field('Shortest PIN', pinMin)),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Offline'),
      offline.el,
      field('Days of offline data', offlineDays, 'A PIN is required wherever offline access is allowed.'),
    ),
    h(
      'details',
      {},
      h('summary', {}, 'Every setting of this policy (JSON)'),
      field(
        'Policy (JSON)',
        text,
        'Lifetimes are in minutes. The controls above are written over these values when you save.',
      ),
    ),
    err.el,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, `Save policy ${entry.name}`)),
  );
  onSubmit(form, err, () => {
    let policy: Record<string, unknown>;
    try {
      policy = JSON.parse(text.value) as Record<string, unknown>;
    } catch {
      err.show('The JSON under “Every setting of this policy” is not valid.');
      return undefined;
    }
    const asObject = (v: unknown): Record<string, unknown> =>
      typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
    policy.temporaryCodes = {
      ...asObject(policy.temporaryCodes),
      allowed: tempAllowed.box.checked,
      minLifetimeMinutes: minL.minutes(),
      defaultLifetimeMinutes: defL.minutes(),
      maxLifetimeMinutes: maxL.minutes(),
      multiUseAllowed: multi.box.checked,
      pinRequired: tempPin.box.checked,
      revokeOnTokenSuccess: revoke.box.checked,
    };
    policy.enrollmentAllowed = enroll.box.checked;
    policy.pin = { ...asObject(policy.pin), required: pinRequired.box.checked, minLength: Number(pinMin.value) };
    policy.offline = { ...asObject(policy.offline), allowed: offline.box.checked, days: Number(offlineDays.value) };
    return api<{ policies: PolicyEntry[] }>('PATCH', '/api/v1/admin/settings', {
      policies: { [entry.name]: policy },
    }).then((res) => {
      const saved = res.policies.find((x) => x.name === entry.name);
      if (saved) text.value = JSON.stringify(saved.policy, null, 2);
      announce(`Policy ${entry.name} saved.`);
    });
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
    field(
      'Name',
      name,
      'Starts with the defaults; edit it after it is created (for example: contractors, without enrollment).',
    ),
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
