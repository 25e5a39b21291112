import type { AuditStats } from '../schemas.js';
import { h } from './dom.js';

const SERIES = [
  { key: 'issued', label: 'Codes issued', cls: 'c-issued' },
  { key: 'verifications', label: 'Verifications', cls: 'c-verify' },
  { key: 'offline', label: 'Offline uses', cls: 'c-offline' },
] as const;

/**
 * A grouped bar chart per day, drawn as inline SVG (no chart library, nothing from a CDN). The same numbers are
 * in a table right under it for screen readers and for copying.
 */
export function dailyChart(stats: AuditStats): HTMLElement {
  const ns = 'http://www.w3.org/2000/svg';
  const days = stats.days;
  const max = Math.max(1, ...days.flatMap((d) => [d.issued, d.verifications, d.offline]));
  const barW = 10;
  const groupW = barW * SERIES.length + 12;
  const height = 160;
  const top = 10;
  const left = 36;
  const bottom = 28;
  const width = left + Math.max(1, days.length) * groupW + 10;
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height + top + bottom}`);
  // Drawn at its natural size (CSS shrinks it on narrow screens), so the labels stay readable.
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height + top + bottom));
  svg.setAttribute('class', 'chart');
  svg.setAttribute('role', 'img');
  const total = (k: (typeof SERIES)[number]['key']): number => days.reduce((n, d) => n + d[k], 0);
  svg.setAttribute(
    'aria-label',
    `Per day from ${days[0]?.day ?? '—'} to ${days.at(-1)?.day ?? '—'}: ${SERIES.map((s) => `${total(s.key)} ${s.label.toLowerCase()}`).join(', ')}. The table below has each day.`,
  );
  const el = (tag: string, attrs: Record<string, string | number>, text?: string): SVGElement => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  };
  svg.append(el('line', { x1: left, y1: top + height, x2: width, y2: top + height, class: 'axis' }));
  svg.append(el('text', { x: left - 4, y: top + 8, 'text-anchor': 'end', class: 'tick' }, String(max)));
  svg.append(el('text', { x: left - 4, y: top + height, 'text-anchor': 'end', class: 'tick' }, '0'));
  days.forEach((d, i) => {
    const x0 = left + i * groupW + 4;
    SERIES.forEach((s, j) => {
      const v = d[s.key];
      const bh = Math.round((v / max) * height);
      const rect = el('rect', { x: x0 + j * barW, y: top + height - bh, width: barW - 1, height: bh, class: s.cls });
      rect.append(el('title', {}, `${d.day}: ${v} ${s.label.toLowerCase()}`));
      svg.append(rect);
    });
    if (days.length <= 16 || i % Math.ceil(days.length / 16) === 0)
      svg.append(
        el(
          'text',
          { x: x0 + (barW * SERIES.length) / 2, y: top + height + 16, 'text-anchor': 'middle', class: 'tick' },
          d.day.slice(5),
        ),
      );
  });
  const legend = h(
    'ul',
    { class: 'legend' },
    ...SERIES.map((s) => h('li', {}, h('span', { class: `swatch ${s.cls}`, 'aria-hidden': 'true' }), s.label)),
  );
  const data = h(
    'details',
    {},
    h('summary', {}, 'Numbers per day'),
    h(
      'table',
      {},
      h('caption', {}, 'Codes issued, verifications and offline uses per day'),
      h(
        'thead',
        {},
        h('tr', {}, h('th', { scope: 'col' }, 'Day'), ...SERIES.map((s) => h('th', { scope: 'col' }, s.label))),
      ),
      h(
        'tbody',
        {},
        ...days.map((d) =>
          h('tr', {}, h('th', { scope: 'row' }, d.day), ...SERIES.map((s) => h('td', {}, String(d[s.key])))),
        ),
      ),
    ),
  );
  return h('figure', { class: 'card' }, h('figcaption', {}, 'Activity per day (UTC)'), svg, legend, data);
}
