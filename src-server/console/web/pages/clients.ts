import { api, enc } from '../api.js';
import { confirmButton, errorSlot, onSubmit, secretOnceDialog } from '../dialogs.js';
import { announce, field, h, shortDate, table } from '../dom.js';
import type { PageContext } from '../page-context.js';

interface ClientEntry {
  clientId: string;
  name: string;
  createdAt: number;
  createdBy: string;
  revokedAt: number | null;
}

/** API clients (a VPN gateway, a portal) that call /api/v1/verify; the key is shown once. */
export async function renderClients(ctx: PageContext): Promise<void> {
  const { clients } = await api<{ clients: ClientEntry[] }>('GET', '/api/v1/admin/clients');
  ctx.main.append(
    h('h1', {}, 'API clients'),
    clients.length === 0
      ? h('p', {}, 'No API client is registered.')
      : table(
          ['Client', 'Id', 'Created', 'State', ''],
          clients.map((c) => [
            c.name,
            c.clientId,
            shortDate(c.createdAt),
            c.revokedAt ? `revoked ${shortDate(c.revokedAt)}` : 'active',
            c.revokedAt ? '' : revokeButton(ctx, c),
          ]),
          'Registered API clients',
        ),
    newClientForm(ctx),
  );
}

function revokeButton(ctx: PageContext, c: ClientEntry): HTMLElement {
  return confirmButton(
    `Revoke ${c.name}`,
    {
      title: `Revoke ${c.name}?`,
      paragraphs: ['Its key stops working at once; it cannot verify codes any more.'],
      confirmLabel: 'Revoke client',
      danger: true,
    },
    () =>
      api('DELETE', `/api/v1/admin/clients/${enc(c.clientId)}`).then(() => {
        announce(`${c.name} revoked.`);
        ctx.main.replaceChildren();
        return renderClients(ctx);
      }),
  );
}

function newClientForm(ctx: PageContext): HTMLElement {
  const name = h('input', { name: 'name', required: true, autocomplete: 'off' });
  const err = errorSlot();
  const form = h(
    'form',
    { class: 'card inline', 'aria-labelledby': 'new-client-title' },
    h('h2', { id: 'new-client-title' }, 'Register a client'),
    field('Name', name, 'For example: VPN gateway.'),
    err.el,
    h('button', { type: 'submit', class: 'primary' }, 'Register'),
  );
  onSubmit(form, err, () =>
    api<{ clientId: string; key: string }>('POST', '/api/v1/admin/clients', { name: name.value.trim() }).then(
      async (res) => {
        const key = res.key;
        res.key = '';
        await secretOnceDialog(
          `Key for ${name.value.trim()}`,
          key,
          [
            'Configure the client with this key now. It is shown only this once; the server keeps only a keyed hash of it.',
          ],
          [`Client id: ${res.clientId}. Send the key as “Authorization: Bearer <key>”.`],
        );
        ctx.main.replaceChildren();
        await renderClients(ctx);
      },
    ),
  );
  return form;
}
