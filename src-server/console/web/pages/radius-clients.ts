import { api, enc } from '../api.js';
import { confirmButton, errorSlot, onSubmit, secretOnceDialog } from '../dialogs.js';
import { announce, field, h, shortDate, table } from '../dom.js';
import type { PageContext } from '../page-context.js';

/** As GET /api/v1/admin/radius-clients lists them (src-server/routes/admin-radius.ts): never the secret. */
interface RadiusClientEntry {
  name: string;
  addresses: string[];
  requireMessageAuthenticator: boolean;
  createdAt: number;
  createdBy: string;
}

const BLAST_RADIUS_WARNING =
  'Without Message-Authenticator nothing proves a request was made with the shared secret: an attacker on the path ' +
  'can forge an Access-Accept (BlastRADIUS, CVE-2024-3596). Turn this off only for an old gateway that cannot send ' +
  'Message-Authenticator, and upgrade it. The change is recorded in the audit log.';

/** RADIUS clients (NAS: VPN gateways, firewalls) that send Access-Requests; the shared secret is shown once. */
export async function renderRadiusClients(ctx: PageContext): Promise<void> {
  const { clients } = await api<{ clients: RadiusClientEntry[] }>('GET', '/api/v1/admin/radius-clients');
  ctx.main.append(
    h('h1', {}, 'RADIUS clients'),
    h(
      'p',
      {},
      'VPN gateways, firewalls and remote-access portals that check Lifeline codes over RADIUS. Packets from any other address are dropped.',
    ),
    clients.length === 0
      ? h('p', {}, 'No RADIUS client is registered.')
      : table(
          ['Client', 'Allowed addresses', 'Message-Authenticator', 'Created', ''],
          clients.map((c) => [
            c.name,
            c.addresses.join(', '),
            c.requireMessageAuthenticator ? 'Required' : 'Not required (BlastRADIUS protection off)',
            `${shortDate(c.createdAt)} by ${c.createdBy}`,
            deleteButton(ctx, c),
          ]),
          'Registered RADIUS clients',
        ),
    newClientForm(ctx),
  );
}

async function rerender(ctx: PageContext): Promise<void> {
  ctx.main.replaceChildren();
  await renderRadiusClients(ctx);
}

function deleteButton(ctx: PageContext, c: RadiusClientEntry): HTMLElement {
  const paragraphs = [
    'Its requests are dropped at once: users behind this gateway cannot sign in with Lifeline codes until it is registered again with a new secret.',
  ];
  return confirmButton(
    `Delete ${c.name}`,
    { title: `Delete ${c.name}?`, paragraphs, confirmLabel: 'Delete client', danger: true },
    () =>
      api('DELETE', `/api/v1/admin/radius-clients/${enc(c.name)}`).then(async () => {
        await rerender(ctx);
        announce(`${c.name} deleted.`);
      }),
  );
}

function newClientForm(ctx: PageContext): HTMLElement {
  const name = h('input', {
    name: 'name',
    required: true,
    autocomplete: 'off',
    pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]*',
    maxlength: 64,
  });
  const addresses = h('textarea', { name: 'addresses', required: true, rows: 2, autocomplete: 'off' });
  const requireMa = h('input', {
    type: 'checkbox',
    id: 'radius-require-ma',
    name: 'requireMessageAuthenticator',
    checked: true,
    'aria-describedby': 'radius-require-ma-hint',
  });
  const warning = h(
    'p',
    { class: 'notice', id: 'radius-ma-warning', role: 'alert', hidden: true },
    BLAST_RADIUS_WARNING,
  );
  requireMa.addEventListener('change', () => {
    warning.hidden = requireMa.checked;
  });
  const err = errorSlot();
  const form = h(
    'form',
    { class: 'card', 'aria-labelledby': 'new-radius-client-title' },
    h('h2', { id: 'new-radius-client-title' }, 'Register a RADIUS client'),
    field('Name', name, 'Letters, digits, “.”, “_” or “-”; audit rows name the gateway by it. For example: vpn-gw-1.'),
    field(
      'Allowed source addresses',
      addresses,
      'IP addresses or CIDRs the gateway sends from, separated by commas, spaces or lines. For example: 192.0.2.10, 10.20.0.0/24.',
    ),
    h(
      'div',
      { class: 'check' },
      requireMa,
      h('label', { for: requireMa.id }, 'Require Message-Authenticator'),
      h(
        'p',
        { class: 'hint', id: 'radius-require-ma-hint' },
        'Recommended: every Access-Request must be signed with the shared secret.',
      ),
    ),
    warning,
    err.el,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Register RADIUS client')),
  );
  onSubmit(form, err, () => {
    const clientName = name.value.trim();
    const body = {
      name: clientName,
      addresses: addresses.value.split(/[\s,]+/).filter((a) => a !== ''),
      requireMessageAuthenticator: requireMa.checked,
    };
    return api<RadiusClientEntry & { secret: string }>('POST', '/api/v1/admin/radius-clients', body).then(
      async (res) => {
        const secret = res.secret;
        res.secret = '';
        await secretOnceDialog(
          `Shared secret for ${clientName}`,
          secret,
          [
            'Enter this shared secret in the gateway’s RADIUS server settings now. It is shown only this once: copy it straight into the gateway (select it, then copy), not into a ticket, chat or e-mail.',
          ],
          [
            `Point the gateway at this server’s RADIUS port (UDP, usually 1812), sending from ${res.addresses.join(', ')}. If the secret is lost, delete the client and register it again.`,
          ],
        );
        await rerender(ctx);
        announce(`${clientName} registered.`);
      },
    );
  });
  return form;
}
