import { api, ApiFailure, PATHS } from './api.js';
import { announce, field, h, uid } from './dom.js';

/**
 * Modal dialogs on the native <dialog> element: showModal() traps focus, Escape cancels, and focus returns to the
 * control that opened it. A closed dialog is removed from the document, so what it showed (a code, a key, a QR
 * code) does not linger in the DOM.
 */
export function modal<T>(
  title: string,
  build: (close: (value: T | null) => void, titleId: string) => Node[],
  options: { wide?: boolean; role?: 'dialog' | 'alertdialog' } = {},
): Promise<T | null> {
  return new Promise((resolve) => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    const titleId = uid('dlg-title');
    const dialog = h('dialog', {
      'aria-labelledby': titleId,
      class: options.wide ? 'wide' : null,
      role: options.role === 'alertdialog' ? 'alertdialog' : null,
    });
    let settled = false;
    const close = (value: T | null): void => {
      if (settled) return;
      settled = true;
      dialog.close();
      dialog.remove();
      opener?.focus();
      resolve(value);
    };
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      close(null);
    });
    dialog.append(h('h2', { id: titleId }, title), ...build(close, titleId));
    document.body.append(dialog);
    dialog.showModal();
    const first = dialog.querySelector<HTMLElement>('[autofocus], input, select, textarea, button.primary, button');
    first?.focus();
  });
}

export function confirmDialog(
  title: string,
  paragraphs: string[],
  confirmLabel: string,
  danger = false,
): Promise<boolean> {
  return modal<boolean>(
    title,
    (close) => [
      ...paragraphs.map((p) => h('p', {}, p)),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', onclick: () => close(false), autofocus: true }, 'Cancel'),
        h('button', { type: 'button', class: danger ? 'danger' : 'primary', onclick: () => close(true) }, confirmLabel),
      ),
    ],
    { role: 'alertdialog' },
  ).then((v) => v === true);
}

/** What a confirmation dialog asks (confirmDialog's arguments); `danger` marks an action that destroys something. */
export interface Confirmation {
  title: string;
  paragraphs: string[];
  confirmLabel: string;
  danger?: boolean;
}

/**
 * Asks first, then runs `action`; Cancel does nothing. A failure of the action goes to `fail`, by default the status
 * region (a button outside a form has no error slot of its own).
 */
export function confirmThen(
  q: Confirmation,
  action: () => Promise<unknown>,
  fail: (message: string) => void = (m) => announce(m, 'error'),
): void {
  void confirmDialog(q.title, q.paragraphs, q.confirmLabel, q.danger).then((ok) => {
    if (!ok) return;
    action().catch((err: unknown) => fail(messageOf(err)));
  });
}

/** A button for a confirmed action (revoke, delete, void): red when `q.danger`. */
export function confirmButton(
  label: string,
  q: Confirmation,
  action: () => Promise<unknown>,
  fail?: (message: string) => void,
): HTMLButtonElement {
  return h(
    'button',
    { type: 'button', class: q.danger ? 'danger' : null, onclick: () => confirmThen(q, action, fail) },
    label,
  );
}

/**
 * A secret the server returns once (an API client's key, a RADIUS shared secret). The caller drops its own copy; this
 * dialog is then the only place it appears, and it leaves the document on Done.
 */
export function secretOnceDialog(title: string, secret: string, before: string[], after: string[]): Promise<void> {
  return modal<true>(
    title,
    (close) => [
      ...before.map((p) => h('p', {}, p)),
      h('p', { class: 'code small', 'data-once': '' }, secret),
      ...after.map((p) => h('p', {}, p)),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', class: 'primary', onclick: () => close(true) }, 'Done'),
      ),
    ],
    { wide: true },
  ).then(() => undefined);
}

export interface ErrorSlot {
  el: HTMLParagraphElement;
  show(message: string): void;
  clear(): void;
}

/** An inline error slot for forms inside dialogs and pages. */
export function errorSlot(): ErrorSlot {
  const el = h('p', { class: 'form-error', role: 'alert' });
  return {
    el,
    show(message) {
      el.textContent = message;
    },
    clear() {
      el.textContent = '';
    },
  };
}

export function messageOf(err: unknown): string {
  if (err instanceof ApiFailure) return err.message;
  return 'The server could not be reached. Check the connection and try again.';
}

/**
 * The submit plumbing of the console's forms: no page load, the slot's old error cleared, then `action`. A failure of
 * the promise it returns is shown in the slot, then `afterError` runs (to clear a field or move focus); an action
 * that returns nothing stopped on its own, after showing its own message.
 */
export function onSubmit(
  form: HTMLFormElement,
  err: ErrorSlot,
  action: () => Promise<unknown> | undefined,
  afterError?: () => void,
): void {
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    err.clear();
    action()?.catch((error: unknown) => {
      err.show(messageOf(error));
      afterError?.();
    });
  });
}

/**
 * Step-up: the action needs a high-assurance session (an MFA check in the last 15 minutes). A fresh TOTP code
 * renews it; the caller then retries the action it was doing.
 */
export function stepUpDialog(): Promise<boolean> {
  return modal<boolean>('Confirm it is you', (close) => {
    const otp = h('input', {
      name: 'otp',
      inputmode: 'numeric',
      autocomplete: 'one-time-code',
      required: true,
      pattern: '[0-9 ]{6,9}',
      autofocus: true,
    });
    const err = errorSlot();
    const form = h(
      'form',
      {},
      h('p', {}, 'This action needs a recent sign-in. Enter a new code from your authenticator app.'),
      field('Authenticator code', otp),
      err.el,
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', onclick: () => close(false) }, 'Cancel'),
        h('button', { type: 'submit', class: 'primary' }, 'Confirm'),
      ),
    );
    onSubmit(
      form,
      err,
      () =>
        api('POST', PATHS.stepUp, { otp: otp.value.replace(/\s/g, '') }, { noSignOut: true }).then(() => close(true)),
      () => {
        otp.value = '';
        otp.focus();
      },
    );
    return [form];
  }).then((v) => v === true);
}
