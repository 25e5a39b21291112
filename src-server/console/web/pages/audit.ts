import type { AuditEventView, AuditStats } from '../../schemas.js';
import { api, download } from '../api.js';
import { dailyChart } from '../chart.js';
import { messageOf } from '../dialogs.js';
import { announce, clear, field, h, shortDate, table } from '../dom.js';
import type { PageContext } from '../page-context.js';

const PAGE_SIZE = 50;
const DAY = 24 * 3600 * 1000;

/** The audit log: filters, paging (newest first, 'Older' walks back by id), CSV export and the per-day chart. */
export async function renderAudit(ctx: PageContext): Promise<void> {
  const username = h('input', { name: 'username', autocomplete: 'off' });
  const actor = h('input', { name: 'actor', autocomplete: 'off' });
  const device = h('input', { name: 'device', autocomplete: 'off' });
  const type = h('input', { name: 'type', autocomplete: 'off' });
  const from = h('input', { name: 'from', type: 'date' });
  const to = h('input', { name: 'to', type: 'date' });
  const chartArea = h('div', {});
  const results = h('div', { class: 'results' });
  const cursors: (number | null)[] = [null];

  const query = (extra: Record<string, string> = {}): string => {
    const p = new URLSearchParams();
    const put = (k: string, v: string): void => {
      if (v.trim()) p.set(k, v.trim());
    };
    put('username', username.value);
    put('actor', actor.value);
    put('device', device.value);
    // A type without a dot means its whole family: "temporary-code" finds temporary-code.issue, .revoke, …
    const t = type.value.trim();
    if (t) p.set('type', t.includes('.') ? t : `${t}.`);
    // Dates are taken as UTC days, the same days the chart counts.
    if (from.value) p.set('since', String(Date.parse(`${from.value}T00:00:00Z`)));
    if (to.value) p.set('until', String(Date.parse(`${to.value}T00:00:00Z`) + DAY));
    for (const [k, v] of Object.entries(extra)) p.set(k, v);
    return p.toString();
  };

  const load = async (): Promise<void> => {
    const before = cursors.at(-1);
    const page = await api<{ events: AuditEventView[]; nextBefore: number | null }>(
      'GET',
      `/api/v1/admin/audit?${query({ limit: String(PAGE_SIZE), ...(before ? { before: String(before) } : {}) })}`,
    );
    clear(results);
    results.append(
      page.events.length === 0
        ? h('p', {}, 'No event matches.')
        : table(
            ['Time', 'Event', 'Outcome', 'By', 'User', 'Device', 'Details'],
            page.events.map(rowCells),
            `Audit events, page ${cursors.length}`,
          ),
      h(
        'div',
        { class: 'actions' },
        h(
          'button',
          {
            type: 'button',
            disabled: cursors.length === 1,
            onclick: () => {
              cursors.pop();
              void load().catch(fail);
            },
          },
          'Newer',
        ),
        h(
          'button',
          {
            type: 'button',
            disabled: page.nextBefore === null,
            onclick: () => {
              cursors.push(page.nextBefore);
              void load().catch(fail);
            },
          },
          'Older',
        ),
      ),
    );
  };
  const loadChart = async (): Promise<void> => {
    const stats = await api<AuditStats>('GET', `/api/v1/admin/console/audit-stats?${query()}`);
    clear(chartArea);
    chartArea.append(dailyChart(stats));
  };
  const fail = (err: unknown): void => announce(messageOf(err), 'error');

  const form = h(
    'form',
    { class: 'card filters', 'aria-labelledby': 'audit-filter-title' },
    h('h2', { id: 'audit-filter-title' }, 'Filter'),
    h(
      'div',
      { class: 'grid' },
      field('User', username),
      field('Administrator or client', actor),
      field('Device', device),
      field('Event type', type, 'For example temporary-code, verify or verify.attempt.'),
      field('From (UTC day)', from),
      field('To (UTC day, inclusive)', to),
    ),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Apply filter'),
      h(
        'button',
        {
          type: 'button',
          onclick: () => {
            download(`/api/v1/admin/console/audit.csv?${query()}`, 'lifeline-audit.csv')
              .then(() => announce('The CSV file was downloaded.'))
              .catch(fail);
          },
        },
        'Export CSV',
      ),
    ),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    cursors.splice(1);
    Promise.all([load(), loadChart()])
      .then(() => announce('Filter applied.'))
      .catch(fail);
  });
  ctx.main.append(h('h1', {}, 'Audit'), form, chartArea, results);
  await Promise.all([load(), loadChart()]);
}

function rowCells(r: AuditEventView): (string | Node)[] {
  const details = [
    r.purpose ? `purpose ${r.purpose}` : '',
    r.method ? `method ${r.method}` : '',
    r.reason ? `reason: ${r.reason}` : '',
    ...Object.entries(r.details).map(([k, v]) => `${k}=${String(v)}`),
  ]
    .filter(Boolean)
    .join('; ');
  return [
    shortDate(r.at),
    r.type,
    r.outcome,
    r.actor ? (r.actorKind === 'admin' ? r.actor : `${r.actorKind} ${r.actor}`) : r.actorKind,
    r.subject ?? '',
    r.device ?? '',
    details,
  ];
}
