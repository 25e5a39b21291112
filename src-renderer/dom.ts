import type { Message } from './messages.js';

/** The few DOM helpers the views share. Text only: nothing from the core is ever parsed as HTML. */

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from index.html`);
  return el as T;
}

export function renderMessage(target: HTMLElement, message: Message | null): void {
  target.replaceChildren();
  if (!message) {
    delete target.dataset.tone;
    return;
  }
  target.dataset.tone = message.tone;
  const title = document.createElement('p');
  title.className = 'title';
  title.textContent = message.title;
  target.append(title);
  for (const line of message.lines) {
    const p = document.createElement('p');
    p.textContent = line;
    target.append(p);
  }
}

/** The agent's clock as the renderer sees it: status answers carry the agent's `now`, so countdowns agree with it. */
export class AgentClock {
  private offset = 0;
  sync(agentNow: number): void {
    this.offset = agentNow - Date.now();
  }
  now(): number {
    return Date.now() + this.offset;
  }
}
