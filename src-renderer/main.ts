import { AgentClock, byId } from './dom.js';
import { mountPrompt } from './prompt.js';
import { mountStatus } from './status.js';
import { connect } from './transport.js';

/** Entry of the agent's renderer: connect to the core, pre-fill the prompt, keep the status fresh. DOM only. */

function mountTabs(): void {
  const tabs = [
    { button: byId<HTMLButtonElement>('show-prompt'), view: byId('prompt-view') },
    { button: byId<HTMLButtonElement>('show-status'), view: byId('status-view') },
  ];
  for (const tab of tabs) {
    tab.button.addEventListener('click', () => {
      for (const t of tabs) {
        t.view.hidden = t !== tab;
        t.button.setAttribute('aria-pressed', String(t === tab));
      }
      const heading = tab.view.querySelector('h1');
      heading?.setAttribute('tabindex', '-1');
      heading?.focus();
    });
  }
}

async function start(): Promise<void> {
  const api = await connect();
  const clock = new AgentClock();
  const config = await api.config({});
  mountTabs();
  const prompt = mountPrompt(api, clock, config.ok ? config.osUsername : '');
  const status = mountStatus(api, clock, () => prompt.username());
  prompt.onAnswer(() => void status.refresh());
  await status.refresh();
  document.body.dataset.ready = 'true';
}

void start();
