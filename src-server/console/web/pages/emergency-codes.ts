import { api, enc } from '../api.js';
import { confirmButton, errorSlot, modal, onSubmit } from '../dialogs.js';
import { field, h, longDate, shortDate } from '../dom.js';
import { can } from '../session.js';
import type { UserPageContext } from '../page-context.js';

const BEHAVIOUR_TEXT: Record<string, string> = {
  'deny-token': 'the normal token is refused while any code of the set is unused and unexpired',
  'allow-and-disable-codes': 'a success with the normal token voids the set',
  'allow-after-codes-expire': 'the normal token is refused until the set expires',
};

/** Emergency code sets (RSA online emergency access): a list of sets and, for permitted admins, a new set with a printable view. */
export function emergencySection(ctx: UserPageContext): HTMLElement | null {
  const { user, me } = ctx;
  const opts = ctx.options.emergency;
  if (!opts.enabled) return null;
  const s = h(
    'section',
    { class: 'card', 'aria-labelledby': 'emergency-title' },
    h('h2', { id: 'emergency-title' }, 'Emergency code sets'),
  );
  const live = user.emergencyCodes;
  const behaviour = BEHAVIOUR_TEXT[opts.tokenBehaviour] ?? '';
  if (!live) s.append(h('p', {}, 'No emergency codes issued.'));
  else
    s.append(
      h(
        'p',
        { class: 'active-code' },
        `Current set: ${live.unused} of ${live.total} codes unused, issued ${shortDate(live.issuedAt)}, `,
        live.expiresAt === null ? 'no expiry' : `${live.expired ? 'expired' : 'expires'} ${longDate(live.expiresAt)}`,
        '.',
      ),
    );
  if (behaviour)
    s.append(
      h(
        'p',
        { class: 'hint' },
        `Under this user's policy, while a set is valid ${behaviour}. A new set replaces the current one.`,
      ),
    );
  if (live && !live.expired && live.unused > 0 && can(me, 'codes.revoke')) {
    const confirmation = {
      title: `Void the emergency codes of ${user.username}?`,
      paragraphs: ['Every unused code of the set stops working at once.'],
      confirmLabel: 'Void codes',
      danger: true,
    };
    s.append(
      h(
        'div',
        { class: 'actions' },
        confirmButton('Void codes', confirmation, () =>
          api('DELETE', `/api/v1/admin/users/${enc(user.username)}/emergency-codes`).then(() =>
            ctx.reload(`The emergency codes of ${user.username} are void.`),
          ),
        ),
      ),
    );
  }
  if (!can(me, 'codes.issue') || user.status !== 'active') return s;
  const count = h('input', {
    type: 'number',
    name: 'count',
    min: 1,
    max: opts.maxCount,
    value: Math.min(5, opts.maxCount),
    required: true,
    class: 'short',
  });
  const hours = h('input', {
    type: 'number',
    name: 'expiresInHours',
    min: 1,
    value: opts.defaultExpiresInHours ?? '',
    class: 'short',
  });
  const err = errorSlot();
  const form = h(
    'form',
    { 'aria-label': 'Generate emergency codes' },
    field('Number of codes', count, `At most ${opts.maxCount}. Each code works once, with the PIN.`),
    field('Expires after (hours)', hours, 'Leave empty for codes that do not expire (if the policy allows it).'),
    err.el,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Generate emergency codes')),
  );
  onSubmit(form, err, () => {
    const body: { count: number; expiresInHours?: number } = { count: Number(count.value) };
    if (hours.value.trim()) body.expiresInHours = Number(hours.value);
    return api<{ codes: string[]; expiresAt: number | null; tokenBehaviour: string }>(
      'POST',
      `/api/v1/admin/users/${enc(user.username)}/emergency-codes`,
      body,
    ).then(async (res) => {
      await showSetOnce(ctx, res);
      await ctx.reload(`${res.codes.length} emergency codes were issued to ${user.username}.`);
    });
  });
  s.append(form);
  return s;
}

async function showSetOnce(
  ctx: UserPageContext,
  res: { codes: string[]; expiresAt: number | null; tokenBehaviour: string },
): Promise<void> {
  const { user } = ctx;
  const codes = res.codes.slice();
  res.codes = [];
  const behaviour = BEHAVIOUR_TEXT[res.tokenBehaviour] ?? '';
  await modal<true>(
    `Emergency codes for ${user.username}`,
    (close) => [
      h(
        'div',
        { class: 'printable' },
        h(
          'p',
          {},
          `Lifeline emergency codes for ${user.username}. Each works once, with your PIN. `,
          res.expiresAt === null ? 'They do not expire.' : `They expire on ${longDate(res.expiresAt)}.`,
          behaviour ? ` While they are valid, ${behaviour}.` : '',
        ),
        h('ol', { class: 'codes' }, ...codes.map((c) => h('li', { class: 'code small' }, c))),
      ),
      h('p', { class: 'hint' }, 'Print them or read them to the user now. After Done they cannot be shown again.'),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', onclick: () => window.print() }, 'Print'),
        h('button', { type: 'button', class: 'primary', onclick: () => close(true) }, 'Done'),
      ),
    ],
    { wide: true },
  );
  codes.length = 0;
}
