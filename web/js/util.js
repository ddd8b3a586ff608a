// Small DOM and formatting helpers. Everything the page shows goes through `h`, which
// only ever creates text nodes for content: data (merchant names may contain `<script>`)
// is never parsed as HTML.

import { locale } from './i18n.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(el, props, children) {
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    else if (k === 'text') el.textContent = String(v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else if (k === 'checked' || k === 'disabled' || k === 'hidden' || k === 'selected' || k === 'required' || k === 'autofocus') el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** `h('p', {class: 'x'}, 'text', child)` — an element whose string children are text. */
export function h(tag, props, ...children) {
  return build(document.createElement(tag), props, children);
}

/** The same for SVG elements (charts and gauges drawn by the page). */
export function s(tag, props, ...children) {
  return build(document.createElementNS(SVG_NS, tag), props, children);
}

/** Replaces the children of `el`. */
export function mount(el, ...children) {
  el.replaceChildren();
  build(el, {}, children);
  return el;
}

/** ¥1,234.50 from integer fen, without floating point. */
export function money(fen) {
  if (fen === undefined || fen === null || Number.isNaN(Number(fen))) return '—';
  const n = Number(fen);
  const neg = n < 0;
  const a = Math.abs(n);
  const yuan = Math.floor(a / 100);
  const cents = a % 100;
  const grouped = String(yuan).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${neg ? '-' : ''}¥${grouped}.${String(cents).padStart(2, '0')}`;
}

/**
 * Integer fen from a yuan amount typed by a person ("128", "128.5", "¥ 1280.50", full-width
 * digits from a Chinese keyboard); null when invalid. A comma is refused, never guessed:
 * "12,5" is 12.5 to some and 125 to others, and a wrong guess costs ten times the money.
 */
export function parseYuan(text) {
  const v = String(text ?? '')
    .replace(/[０-９．]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0))
    .replace(/[\s\u3000]/g, '')
    .replace(/^[¥￥]/, '');
  if (/[,，、]/.test(v)) return null;
  const m = /^(\d{1,12})(?:\.(\d{0,2}))?$/.exec(v);
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] || '').padEnd(2, '0'));
}

/** Percent typed by a person ("15", "7.5") as basis points; null when invalid. */
export function parsePercentBp(text) {
  const v = String(text ?? '').trim();
  const m = /^(\d{1,3})(?:\.(\d{0,2}))?$/.exec(v);
  if (!m) return null;
  const bp = Number(m[1]) * 100 + Number((m[2] || '').padEnd(2, '0'));
  return bp <= 10000 ? bp : null;
}

export function percent(bp) {
  return `${(Number(bp) / 100).toFixed(Number(bp) % 100 ? 2 : 0)}%`;
}

const TZ = 'Asia/Shanghai';

/** Date and time in Asia/Shanghai, whatever the device's zone. */
export function dateTime(value) {
  if (!value) return '—';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return new Intl.DateTimeFormat(locale(), {
    timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', hour12: false,
  }).format(d);
}

export function dateOnly(value) {
  if (!value) return '—';
  // A bare YYYY-MM-DD is already a local (Shanghai) date: show it as it is.
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return shanghaiDate(d);
}

export function timeOnly(value) {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return '—';
  return new Intl.DateTimeFormat(locale(), { timeZone: TZ, hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }).format(d);
}

/** YYYY-MM-DD of `d` in Asia/Shanghai. */
export function shanghaiDate(d = new Date()) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
}

export function shanghaiYear(d = new Date()) {
  return Number(shanghaiDate(d).slice(0, 4));
}

/** A random v4 UUID; crypto.randomUUID needs a secure context, getRandomValues does not. */
export function uuid() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((v) => v.toString(16).padStart(2, '0')).join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** "1234 5678 9012" — digits grouped for reading aloud. */
export function groupDigits(v, size = 4) {
  return String(v ?? '').replace(new RegExp(`(.{${size}})(?=.)`, 'g'), '$1 ');
}
