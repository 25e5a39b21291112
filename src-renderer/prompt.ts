import type { RendererApi } from '../src-shared/ipc.js';
import { AgentClock, byId, renderMessage } from './dom.js';
import { countdown, plural } from './format.js';
import { failureMessage, loginMessage, type Message } from './messages.js';

/**
 * The second-factor prompt: username (pre-filled with the OS user), PIN, code, and the 'I don't have my token'
 * path that shows the request to read to the helpdesk and takes the code it gives back.
 */
export interface Prompt {
  /** Called after every answer so the status (and the offline banner) can refresh. */
  onAnswer(listener: () => void): void;
  username(): string;
}

export function mountPrompt(api: RendererApi, clock: AgentClock, osUsername: string): Prompt {
  const form = byId<HTMLFormElement>('login-form');
  const username = byId<HTMLInputElement>('username');
  const pin = byId<HTMLInputElement>('pin');
  const code = byId<HTMLInputElement>('code');
  const signIn = byId<HTMLButtonElement>('sign-in');
  const noToken = byId<HTMLButtonElement>('no-token');
  const result = byId('result');
  const countdownEl = byId('countdown');
  const emergency = byId('emergency');
  const emergencyForm = byId<HTMLFormElement>('emergency-form');
  const emergencyRequest = byId('emergency-request');
  const emergencySlots = byId('emergency-slots');
  const emergencyCode = byId<HTMLInputElement>('emergency-code');
  const emergencyPin = byId<HTMLInputElement>('emergency-pin');
  const emergencySubmit = byId<HTMLButtonElement>('emergency-submit');
  const emergencyCancel = byId<HTMLButtonElement>('emergency-cancel');

  const listeners: Array<() => void> = [];
  let lockTimer: number | undefined;
  let busy = false;

  username.value = osUsername;
  (osUsername ? pin : username).focus();

  function answered(): void {
    for (const l of listeners) l();
  }

  function show(message: Message | null): void {
    renderMessage(result, message);
    if (message?.lockedUntil !== undefined) startLock(message.lockedUntil);
  }

  /** The lock's end is announced once (the result); the ticking countdown is visual only, so screen readers are not flooded. */
  function startLock(until: number): void {
    window.clearInterval(lockTimer);
    const tick = (): void => {
      const left = until - clock.now();
      if (left <= 0) {
        window.clearInterval(lockTimer);
        lockTimer = undefined;
        countdownEl.hidden = true;
        refreshButtons();
        renderMessage(result, { tone: 'info', title: 'You can try again now.', lines: [] });
        return;
      }
      countdownEl.hidden = false;
      countdownEl.textContent = `Try again in ${countdown(left)}`;
    };
    lockTimer = window.setInterval(tick, 1000);
    refreshButtons();
    tick();
  }

  function setBusy(on: boolean): void {
    busy = on;
    result.setAttribute('aria-busy', String(on));
    refreshButtons();
  }

  function refreshButtons(): void {
    const blocked = busy || lockTimer !== undefined;
    for (const b of [signIn, emergencySubmit, noToken]) b.disabled = blocked;
  }

  function missing(fields: Array<[HTMLInputElement, string]>): boolean {
    for (const [input, label] of fields) {
      if (input.value.trim() === '') {
        show({ tone: 'bad', title: `Type your ${label}.`, lines: [] });
        input.focus();
        return true;
      }
    }
    return false;
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (busy || lockTimer !== undefined) return;
    if (
      missing([
        [username, 'username'],
        [pin, 'PIN'],
        [code, 'code'],
      ])
    )
      return;
    setBusy(true);
    show({ tone: 'info', title: 'Checking…', lines: [] });
    void api.login({ username: username.value, pin: pin.value, code: code.value }).then((answer) => {
      setBusy(false);
      code.value = '';
      if (answer.ok) pin.value = '';
      show(loginMessage(answer, clock.now()));
      if (!answer.ok && lockTimer === undefined) (answer.error === 'invalid_code' ? code : pin).focus();
      answered();
    });
  });

  noToken.addEventListener('click', () => {
    if (busy || missing([[username, 'username']])) return;
    setBusy(true);
    void api.emergencyRequest({ username: username.value }).then((answer) => {
      setBusy(false);
      if (!answer.ok) {
        const message = failureMessage(answer, clock.now());
        message.lines.push(
          'If this computer can reach the network, the helpdesk can give you a temporary code instead: type it in the Code field.',
        );
        show(message);
        return;
      }
      show(null);
      emergencyRequest.textContent = answer.request;
      emergencySlots.textContent = `The helpdesk will ask who you are. This request is for ${answer.username} on this computer, which holds ${plural(answer.slotsLeft, 'emergency code')} for you.`;
      form.hidden = true;
      emergency.hidden = false;
      emergencyPin.value = pin.value;
      emergencyCode.focus();
      answered();
    });
  });

  const closeEmergency = (): void => {
    emergency.hidden = true;
    form.hidden = false;
    show(null);
    code.focus();
  };
  emergencyCancel.addEventListener('click', closeEmergency);
  // Keyboard-first: Escape leaves the helpdesk panel as the Back button does.
  emergency.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') closeEmergency();
  });

  emergencyForm.addEventListener('submit', (event) => {
    event.preventDefault();
    if (busy || lockTimer !== undefined) return;
    if (missing([[emergencyCode, 'code from the helpdesk']])) return;
    setBusy(true);
    show({ tone: 'info', title: 'Checking…', lines: [] });
    const typedPin = emergencyPin.value;
    void api
      .emergencySubmit({ username: username.value, code: emergencyCode.value, ...(typedPin ? { pin: typedPin } : {}) })
      .then((answer) => {
        setBusy(false);
        emergencyCode.value = '';
        if (answer.ok) {
          emergencyPin.value = '';
          pin.value = '';
          emergency.hidden = true;
          form.hidden = false;
        } else if (lockTimer === undefined) {
          emergencyCode.focus();
        }
        show(loginMessage(answer, clock.now()));
        answered();
      });
  });

  return {
    onAnswer: (l) => listeners.push(l),
    username: () => username.value.trim(),
  };
}
