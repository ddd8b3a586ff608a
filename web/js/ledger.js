// The redemption ledger (核销台账) of the official face: every sale, newest first, with
// its merchant, offer, card and holder (masked), cashier and money, filtered by dates,
// card, merchant and status — each row one click from its trace. The filters live in
// the address (`#/ledger?card_no=…`), so search results link straight into it and the
// browser's Back returns to the same list.

import { h, mount, money, dateTime } from './util.js';
import { t } from './i18n.js';
import { chip, field, section, table, pagedList } from './ui.js';
import { traceLink } from './trace.js';

const FILTERS = ['from', 'to', 'card_no', 'merchant_id', 'status'];

/** The ledger's address for `filters` (`m` carries the merchant's name for the page). */
export function ledgerHref(filters = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `#/ledger?${s}` : '#/ledger';
}

function rows(items) {
  return table([
    { label: t('audit.at'), cell: (r) => dateTime(r.created_at) },
    { label: t('ledger.shop'), cell: (r) => h('div', {},
      h('strong', { class: 'merchant-name-cell', text: (r.merchant && r.merchant.name) || '' }),
      h('div', { class: 'small', text: (r.offer && r.offer.name) || '' })) },
    { label: t('ledger.card'), cell: (r) => h('div', {},
      h('span', { class: 'mono', text: r.card_no || '' }),
      h('div', { class: 'small', text: (r.talent && r.talent.masked_name) || '' })) },
    { label: t('trace.cashier'), cell: (r) => r.cashier_name || '' },
    { label: t('quote.bill'), class: 'num', cell: (r) => money(r.bill_fen) },
    { label: t('quote.subsidy'), class: 'num', cell: (r) => money(r.subsidy_fen) },
    { label: t('status'), cell: (r) => h('span', {}, chip(r.status), r.disputed ? [' ', chip('disputed')] : null) },
    { label: t('actions'), cell: (r) => traceLink(r.id) },
  ], items, { rowData: (r) => ({ redemption: String(r.id) }) });
}

/** The ledger, filtered by `params` (URLSearchParams of the address). */
export function ledgerView(body, params, go) {
  const value = (k) => params.get(k) || '';
  const from = h('input', { class: 'input', type: 'date', name: 'from', id: 'ledger-from', value: value('from') });
  const to = h('input', { class: 'input', type: 'date', name: 'to', id: 'ledger-to', value: value('to') });
  const card = h('input', { class: 'input mono', name: 'card_no', id: 'ledger-card', inputmode: 'numeric', autocomplete: 'off', value: value('card_no') });
  const status = h('select', { class: 'input select', name: 'status', id: 'ledger-status' },
    ['', 'active', 'reversed'].map((s) => h('option', { value: s, text: s ? t(`ledger.st.${s}`) : t('cat.all'), selected: s === value('status') })));
  const merchant = value('merchant_id');
  const merchantName = value('m');
  const apply = h('button', { class: 'btn btn-primary', type: 'submit', id: 'ledger-apply', text: t('ledger.apply') });
  const clear = h('a', { class: 'btn btn-ghost', href: ledgerHref(), id: 'ledger-clear', text: t('ledger.clear') });
  const form = h('form', { class: 'ledger-filters', id: 'ledger-form', novalidate: true },
    field(t('ledger.from'), from), field(t('ledger.to'), to), field(t('card.no'), card), field(t('status'), status),
    h('div', { class: 'ledger-buttons' }, apply, clear));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    go(ledgerHref({
      from: from.value, to: to.value, card_no: card.value.replace(/[\s-]/g, ''), status: status.value,
      merchant_id: merchant, m: merchantName,
    }).slice(2));
  });
  const q = new URLSearchParams();
  for (const k of FILTERS) if (value(k)) q.set(k, value(k));
  const path = `/redemptions${q.toString() ? `?${q}` : ''}`;
  const shown = merchant ? h('div', { class: 'ledger-merchant', id: 'ledger-merchant' },
    h('span', { text: t('ledger.only_merchant', { m: merchantName || `#${merchant}` }) }), ' ',
    h('a', { href: ledgerHref({ ...Object.fromEntries(params), merchant_id: '', m: '' }), class: 'small', text: t('ledger.all_merchants') })) : null;
  mount(body, h('div', { class: 'page-head' }, h('h1', { text: t('off.tab.ledger') })),
    section(null, h('p', { class: 'small ledger-lead', text: t('ledger.lead') }), form, shown),
    section(null, h('div', { id: 'ledger-list' }, pagedList(path, (items) => rows(items), 20))));
}
