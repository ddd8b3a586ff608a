// The official face's search (DESIGN §5): one box at the top of every screen; the
// results screen (`#/search?q=…`) asks for talents, cards and merchants at once and shows
// each kind in its own group, saying how the words were read (a whole phone number is
// looked up exactly and recorded in the audit log). Every result links to the ledger of
// that card or merchant, where each sale opens its trace.

import { h, mount, dateOnly } from './util.js';
import { t, has } from './i18n.js';
import { list, ApiError } from './api.js';
import { alertBox, errorBox, loading, chip, section, table } from './ui.js';
import { ledgerHref } from './ledger.js';

const KINDS = ['talent', 'card', 'merchant'];
const PER_PAGE = 10;

/** The search form at the top of the face; `go` shows `search?q=…`. */
export function searchBar(current, go) {
  const input = h('input', {
    class: 'input search-input', type: 'search', name: 'q', id: 'search-q', value: current || '',
    maxlength: '64', autocomplete: 'off', spellcheck: 'false', enterkeyhint: 'search',
    placeholder: t('search.placeholder'), 'aria-label': t('search.label'),
  });
  const button = h('button', { class: 'btn btn-primary', type: 'submit', id: 'search-submit', text: t('search.submit') });
  const form = h('form', { class: 'search-bar', id: 'search-form', role: 'search', novalidate: true }, input, button);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = input.value.trim();
    if (!q) {
      input.focus();
      return;
    }
    go(`search?q=${encodeURIComponent(q)}`);
  });
  return form;
}

function ledgerLink(filters, label = t('search.sales')) {
  return h('a', { class: 'btn btn-ghost btn-sm', href: ledgerHref(filters), dataset: { action: 'ledger' }, text: label });
}

function talentRows(items) {
  return table([
    { label: t('t.name'), cell: (x) => h('strong', { class: 'search-name', text: x.talent.name }) },
    { label: t('t.id_number'), cell: (x) => h('span', { class: 'mono', text: x.talent.id_number_masked }) },
    { label: t('t.phone'), cell: (x) => h('span', { class: 'mono', text: x.talent.phone_masked }) },
    { label: t('t.employer'), cell: (x) => x.talent.employer || '' },
    { label: t('t.tier'), cell: (x) => t(`tier.${x.talent.tier}`) },
    { label: t('card.no'), cell: (x) => (x.talent.card ? h('span', {}, h('span', { class: 'mono', text: x.talent.card.card_no }), ' ', chip(x.talent.card.status)) : t('search.no_card')) },
    { label: t('actions'), cell: (x) => (x.talent.card ? ledgerLink({ card_no: x.talent.card.card_no }) : '') },
  ], items, { rowData: (x) => ({ kind: 'talent', id: String(x.id) }) });
}

function cardRows(items) {
  return table([
    { label: t('card.no'), cell: (x) => h('strong', { class: 'mono', text: x.card.card_no }) },
    { label: t('card.holder'), cell: (x) => x.card.holder_name },
    { label: t('t.tier'), cell: (x) => t(`tier.${x.card.tier}`) },
    { label: t('card.valid_until'), cell: (x) => dateOnly(x.card.valid_until) },
    { label: t('status'), cell: (x) => chip(x.card.status) },
    { label: t('actions'), cell: (x) => ledgerLink({ card_no: x.card.card_no }) },
  ], items, { rowData: (x) => ({ kind: 'card', id: String(x.id) }) });
}

function merchantRows(items) {
  return table([
    { label: t('m.name'), cell: (x) => h('strong', { class: 'merchant-name-cell', text: x.merchant.name }) },
    { label: t('m.uscc'), cell: (x) => h('span', { class: 'mono', text: x.merchant.uscc }) },
    { label: t('m.category'), cell: (x) => t(`catlong.${x.merchant.category}`) },
    { label: t('m.district'), cell: (x) => x.merchant.district },
    { label: t('status'), cell: (x) => chip(x.merchant.status) },
    { label: t('actions'), cell: (x) => ledgerLink({ merchant_id: x.merchant.id, m: x.merchant.name }) },
  ], items, { rowData: (x) => ({ kind: 'merchant', id: String(x.id) }) });
}

const RENDER = { talent: talentRows, card: cardRows, merchant: merchantRows };

/** One kind's group: how the words were read, the results, paging. */
function group(kind, q, onDone) {
  const box = h('div', { class: 'search-group-body' }, loading());
  const count = h('span', { class: 'search-count' });
  const head = h('h2', { class: 'panel-title' }, t(`search.kind.${kind}`), ' ', count);
  const panel = h('section', { class: 'panel search-group', id: `search-${kind}`, dataset: { kind } }, head, box);
  let page = 1;
  async function load() {
    mount(box, loading());
    try {
      const res = await list(`/search?kind=${kind}&q=${encodeURIComponent(q)}&page=${page}&per_page=${PER_PAGE}`);
      count.textContent = res.total ? t('search.count', { n: res.total }) : '';
      panel.dataset.total = String(res.total);
      // How the words were read, where it helps: above results, and when numbers can
      // only be found whole (an empty group otherwise says only that nothing was found).
      const explain = res.items.length || (res.matched_by === 'none' && kind === 'talent');
      const how = explain ? h('p', { class: 'small search-how', text: t(`search.by.${res.matched_by}`) }) : null;
      panel.classList.toggle('search-group-empty', !res.items.length);
      const pages = Math.max(1, Math.ceil(res.total / PER_PAGE));
      mount(box, how,
        res.items.length ? RENDER[kind](res.items) : h('p', { class: 'search-none', text: t('search.none') }),
        pages > 1 ? h('div', { class: 'pager' },
          h('button', { class: 'btn btn-ghost btn-sm', text: t('prev'), disabled: page <= 1, onclick: () => { page -= 1; load(); } }),
          h('span', { class: 'small', text: t('page_of', { page, pages }) }),
          h('button', { class: 'btn btn-ghost btn-sm', text: t('next'), disabled: page >= pages, onclick: () => { page += 1; load(); } })) : null);
      onDone(kind, res.total);
    } catch (e) {
      panel.dataset.total = '0';
      // A mistyped ID or card number: say so in the reader's words.
      const typo = e instanceof ApiError && e.code === 'validation' && e.field === 'q';
      mount(box, typo ? alertBox('warn', t(`search.typo.${kind}`)) : errorBox(e));
      onDone(kind, 0);
    }
  }
  load();
  return panel;
}

/** The results screen for `q`: the three groups, those with results first once known. */
export function searchView(body, q) {
  const summary = h('p', { class: 'search-summary', id: 'search-summary', text: t('search.searching', { q }) });
  const groups = h('div', { class: 'search-groups', id: 'search-results' });
  mount(body, h('div', { class: 'page-head' }, h('h1', { text: t('search.title') })), summary, groups);
  if (!q) {
    mount(summary, t('search.empty_query'));
    return;
  }
  const totals = {};
  const panels = {};
  const done = (kind, total) => {
    totals[kind] = total;
    if (Object.keys(totals).length < KINDS.length) return;
    const found = KINDS.reduce((a, k) => a + totals[k], 0);
    const key = found === 1 && has('search.found.one') ? 'search.found.one' : 'search.found';
    summary.textContent = found ? t(key, { q, n: found }) : t('search.nothing', { q });
    // Groups with results first, in the usual order.
    const order = [...KINDS].sort((a, b) => Number(totals[b] > 0) - Number(totals[a] > 0));
    groups.append(...order.map((k) => panels[k]));
  };
  for (const kind of KINDS) {
    panels[kind] = group(kind, q, done);
    groups.append(panels[kind]);
  }
}
