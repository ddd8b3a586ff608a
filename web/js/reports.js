// The reports tab of the officials' face: subsidies by category, district, month and
// card kind over a date range, each chart also as a spreadsheet.

import { h, mount, money, shanghaiDate } from './util.js';
import { t, locale } from './i18n.js';
import { get } from './api.js';
import { errorBox, emptyState, loading, field, section } from './ui.js';
import { barChart, columnChart } from './charts.js';
import { download } from './actions.js';

/** "2026-11" as the month's short name ("11月", "Nov"). */
function monthShort(period) {
  const d = new Date(`${period}-15T12:00:00+08:00`);
  if (Number.isNaN(d.getTime())) return period;
  return new Intl.DateTimeFormat(locale(), { month: 'short', timeZone: 'Asia/Shanghai' }).format(d);
}

export function reports(body) {
  // A date range over every chart (local days, both inclusive), and each chart as a
  // spreadsheet for the office's own files.
  const year = shanghaiDate().slice(0, 4);
  const from = h('input', { class: 'input select-sm', type: 'date', name: 'from', id: 'report-from', value: `${year}-01-01` });
  const to = h('input', { class: 'input select-sm', type: 'date', name: 'to', id: 'report-to', value: shanghaiDate() });
  const grid = h('div', { class: 'chart-grid' });
  const range = () => [from.value && `from=${from.value}`, to.value && `to=${to.value}`].filter(Boolean).join('&');
  function draw() {
    mount(grid, ['category', 'district', 'month', 'card_kind'].map((by) => {
      const box = h('div', { class: 'chart-box', id: `chart-${by}` }, loading());
      const query = `group_by=${by}${range() ? `&${range()}` : ''}`;
      (async () => {
        try {
          // `{group_by, rows, total}`: not a paged list.
          const res = await get(`/reports/subsidies?${query}`);
          const rows = (res.rows || []).map((r) => ({
            // Categories in the reader's language; districts and months as the server names them.
            label: by === 'category' ? t(`catlong.${r.key}`) : by === 'card_kind' ? t(`rep.kind.${r.key}`) : r.label || r.key,
            short: by === 'month' ? monthShort(r.key) : undefined,
            value: Number(r.subsidy_fen) || 0,
          }));
          if (by === 'month') rows.sort((a, b) => a.label.localeCompare(b.label));
          else rows.sort((a, b) => b.value - a.value);
          mount(box, rows.length ? (by === 'month' ? columnChart(rows, { title: t(`rep.${by}`) }) : barChart(rows, { title: t(`rep.${by}`) })) : emptyState({ items: [] }),
            h('p', { class: 'muted small', text: t('rep.total', { amount: money(res.total && res.total.subsidy_fen), n: (res.total && res.total.count) || 0 }) }));
        } catch (e) {
          mount(box, errorBox(e));
        }
      })();
      return section(t(`rep.${by}`), box,
        h('div', { class: 'row-end' }, download(`/api/v1/reports/subsidies/export?${query}`, t('rep.export'))));
    }));
  }
  for (const input of [from, to]) input.addEventListener('change', draw);
  mount(body, h('div', { class: 'page-head' }, h('h1', { text: t('off.tab.reports') })),
    section(null, h('div', { class: 'row row-bottom' }, field(t('rep.from'), from), field(t('rep.to'), to))),
    grid);
  draw();
}
