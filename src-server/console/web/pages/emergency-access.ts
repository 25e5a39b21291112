import { formatCode, normalizeCode } from '../../../../src-shared/codes.js';
import type { EmergencyAccessResponse } from '../../../../src-shared/protocol/admin.js';
import { api } from '../api.js';
import { errorSlot, modal, onSubmit } from '../dialogs.js';
import { announce, field, h, longDate } from '../dom.js';
import type { PageContext } from '../page-context.js';

type Reveal = EmergencyAccessResponse;

/**
 * Offline emergency access (RSA): the user's workstation is offline and shows a request; the helpdesk types it in
 * with a reason (audited), checks that the caller is the user it names, and reads back the code for that slot.
 */
export async function renderEmergencyAccess(ctx: PageContext): Promise<void> {
  const request = h('input', {
    name: 'request',
    required: true,
    autocomplete: 'off',
    spellcheck: 'false',
    class: 'code-input',
  });
  const reason = h('textarea', { name: 'reason', required: true, rows: 2, maxlength: 500 });
  const err = errorSlot();
  const form = h(
    'form',
    { class: 'card', 'aria-labelledby': 'ea-form-title' },
    h('h2', { id: 'ea-form-title' }, 'Request from the workstation'),
    field(
      'Request the user reads to you',
      request,
      'Shown on the user’s screen after “I don’t have my token”. Spaces and dashes do not matter.',
    ),
    field(
      'Reason (recorded in the audit log)',
      reason,
      'For example: phone left at home, working offline at a customer site.',
    ),
    err.el,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Get the code')),
  );
  onSubmit(
    form,
    err,
    () => {
      if (reason.value.trim().length < 3) {
        err.show('Give a reason: it is recorded in the audit log.');
        reason.focus();
        return undefined;
      }
      // The server checks the request's check symbol before anything is revealed: a misheard symbol comes back as an error.
      return api<Reveal>('POST', '/api/v1/admin/emergency-access', {
        request: request.value.trim(),
        reason: reason.value.trim(),
      }).then(async (res) => {
        await showReveal(res);
        request.value = '';
        reason.value = '';
        announce('The offline emergency code was read out; the request is closed.');
      });
    },
    () => request.focus(),
  );
  ctx.main.append(
    h('h1', {}, 'Offline emergency access'),
    h(
      'p',
      {},
      'For a user whose workstation cannot reach the server and who has no token. Confirm who is calling before you read out a code; each code works once, only for that user on that workstation, and without the PIN.',
    ),
    form,
  );
  request.focus();
}

function showReveal(res: Reveal): Promise<true | null> {
  const codeText = formatCode(normalizeCode(res.code));
  res.code = '';
  return modal<true>(
    `Offline emergency code for ${res.username}`,
    (close) => {
      const codeArea = h(
        'div',
        { hidden: true },
        h('p', { class: 'code', 'data-once': '' }, codeText),
        h('h3', {}, 'Tell the user'),
        h(
          'ol',
          { class: 'script' },
          h('li', {}, 'Type this code where the workstation asks for it, after choosing “I don’t have my token”.'),
          h('li', {}, `It works once, only for ${res.username} on this workstation.`),
          h('li', {}, `It expires on ${longDate(res.expiresAt)}.`),
          h('li', {}, 'Next time you sign in online with your token, the workstation gets a fresh emergency code.'),
        ),
        h('p', { class: 'hint' }, 'After Done the code is hidden and cannot be viewed again.'),
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'button', class: 'primary', onclick: () => close(true) }, 'Done'),
        ),
      );
      const confirmArea = h(
        'div',
        {},
        h(
          'p',
          {},
          `This request comes from user ${res.username} on workstation ${res.hostname} (device ${res.device}, emergency slot ${res.slot}).`,
        ),
        h('p', {}, `Make sure the caller is ${res.username} before you read the code.`),
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'button', onclick: () => close(null) }, 'Cancel'),
          h(
            'button',
            {
              type: 'button',
              class: 'primary',
              onclick: () => {
                confirmArea.remove();
                codeArea.hidden = false;
                codeArea.querySelector('button')?.focus();
              },
            },
            `The caller is ${res.username}: show the code`,
          ),
        ),
      );
      return [confirmArea, codeArea];
    },
    { wide: true },
  );
}
