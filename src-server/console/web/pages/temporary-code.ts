import { formatCode, normalizeCode } from '../../../../src-shared/codes.js';
import { api, enc } from '../api.js';
import { confirmButton, confirmDialog, errorSlot, modal, onSubmit } from '../dialogs.js';
import { h, longDate, shortDate } from '../dom.js';
import { describeMinutes, lifetimeControl } from '../lifetime.js';
import { can } from '../session.js';
import type { UserPageContext } from '../page-context.js';

/**
 * The Temporary Code section of the user page, as Imprivata describes it: absent when the user is not eligible, a
 * plain message when the enterprise has the feature off, no Generate for an admin whose role lacks codes.issue.
 */
export function temporaryCodeSection(ctx: UserPageContext): HTMLElement | null {
  const { user, me } = ctx;
  const panel = ctx.options.temporaryCode;
  const active = user.temporaryCode;
  if (!panel.eligible) return null;
  const s = h(
    'section',
    { class: 'card', id: 'temporary-code', 'aria-labelledby': 'temp-title' },
    h('h2', { id: 'temp-title' }, 'Temporary code'),
  );
  if (!panel.enterpriseEnabled) {
    s.append(
      h(
        'p',
        { class: 'notice' },
        'Temporary codes are disabled for this enterprise. An administrator who may change settings must enable them before a code can be generated.',
      ),
    );
    return s;
  }
  if (active) {
    s.append(
      h(
        'p',
        { class: 'active-code' },
        `An active ${active.multiUse ? 'multi-use' : 'single-use'} code expires ${longDate(active.expiresAt)}. Issued ${shortDate(active.issuedAt)} by ${active.issuedBy}.`,
      ),
    );
  } else {
    s.append(h('p', {}, 'No active temporary code.'));
  }
  if (can(me, 'codes.issue') && panel.pinRequired && !user.hasPin)
    s.append(
      h(
        'p',
        { class: 'notice' },
        "The user's policy needs the PIN with a temporary code, and this user has no PIN yet: set one first (PIN section below).",
      ),
    );
  else if (can(me, 'codes.issue')) s.append(generateForm(ctx));
  else s.append(h('p', { class: 'hint' }, 'Your administrator role is not enabled to generate temporary codes.'));
  if (active && can(me, 'codes.revoke')) {
    const confirmation = {
      title: `Revoke the temporary code of ${user.username}?`,
      paragraphs: ['The code stops working at once, on every workstation at its next sync.'],
      confirmLabel: 'Revoke code',
      danger: true,
    };
    s.append(
      h(
        'div',
        { class: 'actions' },
        confirmButton('Revoke code', confirmation, () =>
          api('DELETE', `/api/v1/admin/users/${enc(user.username)}/temporary-code`).then(() =>
            ctx.reload(`The temporary code of ${user.username} is revoked.`),
          ),
        ),
      ),
    );
  }
  return s;
}

function generateForm(ctx: UserPageContext): HTMLElement {
  const { user } = ctx;
  const b = ctx.options.temporaryCode;
  const replacing = user.temporaryCode !== null;
  const boundsId = 'temp-bounds';
  const lifetime = lifetimeControl('Lifetime', b.defaultLifetimeMinutes, boundsId);
  // Unchecked like the API's default (once): the helpdesk ticks it when the procedure calls for it.
  const multi = h('input', { type: 'checkbox', name: 'multiUse', id: 'temp-multi', disabled: !b.multiUseAllowed });
  const err = errorSlot();
  const form = h(
    'form',
    { 'aria-label': replacing ? 'Replace the temporary code' : 'Generate a temporary code' },
    h(
      'p',
      {},
      'Before you generate: confirm who is calling, and ask whether they sign in to Windows or remotely. A temporary code cannot sign orders.',
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Expires after'),
      lifetime.el,
      h(
        'p',
        { class: 'hint', id: boundsId },
        `The policy allows ${describeMinutes(b.minLifetimeMinutes)} to ${describeMinutes(b.maxLifetimeMinutes)}. Choose enough time for the user to recover or replace the device.`,
      ),
    ),
    h(
      'div',
      { class: 'check' },
      multi,
      h('label', { for: 'temp-multi' }, 'Use multiple times until it expires'),
      b.multiUseAllowed ? null : h('span', { class: 'hint' }, ' (the policy allows single-use codes only)'),
    ),
    err.el,
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, replacing ? 'Replace code' : 'Generate code'),
    ),
  );
  onSubmit(form, err, () => {
    const minutes = lifetime.minutes();
    if (!Number.isInteger(minutes) || minutes < b.minLifetimeMinutes || minutes > b.maxLifetimeMinutes) {
      err.show(
        `The policy allows a lifetime from ${describeMinutes(b.minLifetimeMinutes)} to ${describeMinutes(b.maxLifetimeMinutes)}.`,
      );
      lifetime.amount.focus();
      return undefined;
    }
    const confirm = replacing
      ? confirmDialog(
          `Replace the temporary code of ${user.username}?`,
          ['The current code stops working as soon as the new one is generated.'],
          'Replace code',
        )
      : Promise.resolve(true);
    return confirm.then(async (ok) => {
      if (!ok) return;
      const res = await api<{ code: string; expiresAt: number; multiUse: boolean; pinRequired: boolean }>(
        'POST',
        `/api/v1/admin/users/${enc(user.username)}/temporary-code`,
        {
          expiresInMinutes: minutes,
          multiUse: multi.checked,
        },
      );
      await showCodeOnce(ctx, res);
      await ctx.reload(`The temporary code was handed over. It expires ${longDate(res.expiresAt)}.`);
    });
  });
  return form;
}

/**
 * The code is on screen only in this dialog, with what the helpdesk must tell the user (the Imprivata script).
 * Done removes the dialog from the document and the caller drops the response: nothing keeps the code afterwards.
 */
async function showCodeOnce(
  ctx: UserPageContext,
  res: { code: string; expiresAt: number; multiUse: boolean; pinRequired: boolean },
): Promise<void> {
  const { user } = ctx;
  const when = longDate(res.expiresAt);
  const codeText = formatCode(normalizeCode(res.code));
  res.code = '';
  await modal<true>(
    `Temporary code for ${user.username}`,
    (close) => [
      h('p', { class: 'code', 'data-once': '' }, codeText),
      h(
        'p',
        {},
        h('strong', {}, 'Expires: '),
        when,
        '. ',
        res.multiUse ? 'It can be used several times until then.' : 'It works once.',
      ),
      h('h3', {}, 'Tell the user'),
      h(
        'ol',
        { class: 'script' },
        h('li', {}, `The code expires on ${when}.`),
        h('li', {}, `It works only for your account, ${user.username}. It will not work for anyone else.`),
        h('li', {}, 'It cannot be used to sign orders.'),
        h(
          'li',
          {},
          res.pinRequired
            ? 'Sign in as usual: where the screen asks for your token code, enter your PIN and this code.'
            : 'Sign in as usual: where the screen asks for your token code, enter this code.',
        ),
        h(
          'li',
          {},
          user.token
            ? 'When you have your device again, just use it: the temporary code then stops working, and you do not need to call us again.'
            : 'Once you have a new device, enroll it; the temporary code then stops working.',
        ),
      ),
      h('p', { class: 'hint' }, 'After you click Done the code is hidden and cannot be viewed again.'),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', class: 'primary', onclick: () => close(true) }, 'Done'),
      ),
    ],
    { wide: true },
  );
}
