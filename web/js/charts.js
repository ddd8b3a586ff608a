// Charts drawn by the page as SVG (no chart library, nothing from a CDN). Colours come
// from CSS classes, so the strict CSP (no inline styles) holds.

import { s, h, money } from './util.js';

/**
 * A column's label: exact to the fen below ¥10,000; above, rounded (never cut) to whole
 * yuan so it fits over the column. The bar's tooltip always has the exact amount.
 */
function columnLabel(fen) {
  if (Math.abs(fen) < 1_000_000) return money(fen);
  return money(Math.round(fen / 100) * 100).replace(/\.00$/, '');
}

/** Horizontal bars: rows [{label, value}] with value in fen. */
export function barChart(rows, { title } = {}) {
  const W = 640;
  const labelW = 110;
  const valueW = 150;
  const rowH = 40;
  const H = Math.max(1, rows.length) * rowH + 8;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const barMax = W - labelW - valueW;
  return s('svg', { class: 'chart chart-bars', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title || '' },
    title ? s('title', {}, title) : null,
    rows.map((r, i) => {
      const y = 4 + i * rowH;
      const w = Math.max(2, (r.value / max) * barMax);
      return s('g', { class: `bar bar-${i % 6}` },
        s('text', { class: 'chart-label', x: labelW - 10, y: y + rowH / 2, 'text-anchor': 'end', 'dominant-baseline': 'middle' }, r.label),
        s('rect', { class: 'chart-bar', x: labelW, y: y + 6, width: w, height: rowH - 12, rx: 4 }),
        s('text', { class: 'chart-value', x: labelW + w + 8, y: y + rowH / 2, 'dominant-baseline': 'middle' }, money(r.value)));
    }));
}

/** Vertical columns over time: rows [{label, value}] in order. */
export function columnChart(rows, { title } = {}) {
  const W = 640;
  const H = 240;
  const pad = { l: 12, r: 12, t: 24, b: 32 };
  const n = Math.max(1, rows.length);
  const max = Math.max(1, ...rows.map((r) => r.value));
  const slot = (W - pad.l - pad.r) / n;
  const bw = Math.min(48, slot * 0.6);
  const ih = H - pad.t - pad.b;
  return s('svg', { class: 'chart chart-columns', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title || '' },
    title ? s('title', {}, title) : null,
    s('line', { class: 'chart-axis', x1: pad.l, x2: W - pad.r, y1: H - pad.b, y2: H - pad.b }),
    rows.map((r, i) => {
      const bh = Math.max(1, (r.value / max) * ih);
      const x = pad.l + i * slot + (slot - bw) / 2;
      const y = H - pad.b - bh;
      return s('g', { class: 'bar bar-0' },
        s('rect', { class: 'chart-bar', x, y, width: bw, height: bh, rx: 3 }, s('title', {}, `${r.label}: ${money(r.value)}`)),
        s('text', { class: 'chart-label', x: x + bw / 2, y: H - pad.b + 20, 'text-anchor': 'middle' }, r.short || r.label),
        n <= 12 ? s('text', { class: 'chart-value chart-value-sm', x: x + bw / 2, y: y - 6, 'text-anchor': 'middle' }, columnLabel(r.value)) : null);
    }));
}

/**
 * The budget gauge: one bar split into paid, settled, reserved and remaining, which
 * always add up to the total.
 */
export function budgetGauge(b, labels) {
  const W = 640;
  const H = 36;
  const total = Math.max(1, Number(b.total_fen) || 0);
  const parts = [
    ['paid', Number(b.paid_fen) || 0],
    ['settled', Number(b.settled_fen) || 0],
    ['reserved', Number(b.reserved_fen) || 0],
    ['remaining', Math.max(0, Number(b.remaining_fen) || 0)],
  ];
  let x = 0;
  const rects = parts.map(([k, v]) => {
    const w = (v / total) * W;
    const r = s('rect', { class: `gauge-${k}`, x, y: 0, width: Math.max(0, w), height: H }, s('title', {}, `${labels[k]}: ${money(v)}`));
    x += w;
    return r;
  });
  return h('div', { class: 'gauge', id: 'budget-gauge' },
    s('svg', { class: 'gauge-svg', viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': labels.title || '' },
      s('clipPath', { id: 'gauge-clip' }, s('rect', { x: 0, y: 0, width: W, height: H, rx: 10 })),
      s('g', { 'clip-path': 'url(#gauge-clip)' }, rects)),
    h('ul', { class: 'gauge-legend' }, parts.map(([k, v]) => h('li', { class: `legend-${k}` },
      h('span', { class: 'legend-swatch', 'aria-hidden': 'true' }),
      h('span', { class: 'legend-label', text: labels[k] }),
      h('span', { class: 'legend-value', dataset: { part: k }, text: money(v) })))));
}
