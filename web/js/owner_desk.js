// The merchant owner's back office on the counter face: cashiers (add with an activation
// code, list, remove) and settlements (confirm with the 发票 number).

import { h, mount, money, dateTime } from './util.js';
import { t } from './i18n.js';
import { api, get, post, list, ApiError } from './api.js';
import { errorBox, alertBox, emptyState, chip, loading, toast, busy, field, section, table, pagedList, dialogAsk } from './ui.js';
import { settlementActions } from './official.js';
import { showActivationFor } from './activation.js';

const del = (path) => api('DELETE', path);

// ---- Cashiers: add, list, remove ----

export function cashiers(body, me) {
  const username = h('input', { class: 'input', name: 'username', autocomplete: 'off', autocapitalize: 'none' });
  const password = h('input', { class: 'input', name: 'password', type: 'password', autocomplete: 'new-password' });
  const phone = h('input', { class: 'input mono', name: 'phone', inputmode: 'tel', maxlength: '11', autocomplete: 'off' });
  const msg = h('div', { class: 'form-msg' });
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', text: t('submit') });
  const form = h('form', { class: 'form-grid', novalidate: true },
    field(t('cashiers.username'), username), field(t('cashiers.password'), password),
    field(t('cashiers.phone'), phone, t('cashiers.phone_hint')),
    h('div', { class: 'field-wide' }, msg, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const mobile = phone.value.replace(/[\s-]/g, '');
    if (mobile && !/^1\d{10}$/.test(mobile)) {
      mount(msg, alertBox('error', t('cashiers.phone_invalid')));
      phone.focus();
      return;
    }
    busy(submit, async () => {
      try {
        const u = username.value.trim();
        const payload = { username: u, password: password.value };
        if (mobile) payload.phone = mobile;
        await post(`/merchants/${encodeURIComponent(me.merchant_id)}/cashiers`, payload);
        mount(msg, alertBox('ok', t('cashiers.created', { u })));
        form.reset();
        loadList();
      } catch (err) {
        mount(msg, errorBox(err));
      }
    });
  });
  // The merchant's cashier accounts (a plain array, not a paged list).
  const listBox = h('div', { id: 'cashier-list' });
  const listMsg = h('div', { id: 'cashier-msg', 'aria-live': 'polite' });
  async function loadList() {
    mount(listBox, loading());
    try {
      const items = await get(`/merchants/${encodeURIComponent(me.merchant_id)}/cashiers`);
      mount(listBox, items.length ? table([
        { label: t('cashiers.username'), cell: (u) => h('strong', { text: u.username }) },
        { label: t('t.phone'), cell: (u) => h('span', { class: 'mono', text: u.phone_masked || '' }) },
        { label: t('users.active'), cell: (u) => (u.active ? t('yes') : t('no')) },
        { label: t('users.created_at'), cell: (u) => dateTime(u.created_at) },
        { label: t('actions'), cell: (u) => {
          const b = h('button', { class: 'btn btn-danger-ghost btn-sm', type: 'button', text: t('owner.cashier.remove'), dataset: { action: 'remove-cashier' }, 'aria-label': t('owner.cashier.remove_named', { u: u.username }) });
          b.addEventListener('click', () => removeCashier(me, u, () => {
            mount(listMsg, alertBox('ok', t('owner.cashier.removed', { u: u.username })));
            loadList();
          }));
          // A cashier who forgot the password gets a code from the owner, not a new account.
          const code = h('button', { class: 'btn btn-ghost btn-sm', type: 'button', text: t('t.new_code'), dataset: { action: 'cashier-code' } });
          code.addEventListener('click', () => busy(code, async () => {
            try {
              const issued = await post(`/merchants/${encodeURIComponent(me.merchant_id)}/cashiers/${encodeURIComponent(u.id)}/activation`);
              showActivationFor(issued, issued.username, '');
            } catch (e) {
              mount(listMsg, errorBox(e));
            }
          }));
          return h('div', { class: 'row-tight' }, code, b);
        } },
      ], items, { rowData: (u) => ({ username: u.username }) }) : emptyState({ items }));
    } catch (err) {
      mount(listBox, errorBox(err));
    }
  }
  mount(body, section(t('cashiers.new'), form), section(t('cashiers.list'), listMsg, listBox));
  loadList();
}

async function removeCashier(me, u, onDone) {
  const done = await dialogAsk({
    id: 'cashier-remove',
    title: t('owner.cashier.remove_title', { u: u.username }),
    lead: t('owner.cashier.remove_lead'),
    confirmText: t('owner.cashier.remove'),
    danger: true,
    work: async () => {
      try {
        await del(`/merchants/${encodeURIComponent(me.merchant_id)}/cashiers/${encodeURIComponent(u.id)}`);
        return null;
      } catch (e) {
        return errorBox(e);
      }
    },
  });
  if (done) onDone();
}

// ---- Settlements: confirm with the invoice number ----

/** A 发票号码 as the server takes it: 1–40 letters, digits or hyphens once trimmed. */
const INVOICE_NO = /^[0-9A-Za-z-]{1,40}$/;

function confirmSettlement(s, reload) {
  const b = h('button', { class: 'btn btn-primary btn-sm', type: 'button', text: t('settle.confirm'), dataset: { action: 'confirm' } });
  b.addEventListener('click', async () => {
    const invoice = h('input', { class: 'input mono', name: 'invoice_no', id: 'settle-invoice', maxlength: '40', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', 'aria-describedby': 'settle-invoice-hint' });
    const hint = h('span', { class: 'field-hint', id: 'settle-invoice-hint', text: t('owner.settle.invoice_hint') });
    const done = await dialogAsk({
      id: 'settle-confirm',
      title: t('owner.settle.confirm_title', { p: s.period }),
      lead: t('owner.settle.confirm_lead'),
      content: h('div', {},
        h('dl', { class: 'settle-summary' },
          h('dt', { text: t('settle.lines') }), h('dd', { text: String(s.line_count ?? '') }),
          h('dt', { text: t('settle.bill') }), h('dd', { text: money(s.bill_fen) }),
          h('dt', { text: t('settle.subsidy') }), h('dd', { class: 'settle-summary-subsidy', text: money(s.subsidy_fen) })),
        h('label', { class: 'field' }, h('span', { class: 'field-label', text: t('owner.settle.invoice') }), invoice, hint)),
      confirmText: t('settle.confirm'),
      work: async () => {
        const v = invoice.value.trim();
        if (v && !INVOICE_NO.test(v)) {
          invoice.focus();
          return alertBox('error', t('owner.settle.invoice_invalid'));
        }
        try {
          await post(`/settlements/${encodeURIComponent(s.id)}/confirm`, v ? { invoice_no: v } : {});
          return null;
        } catch (e) {
          if (e instanceof ApiError && e.field === 'invoice_no') return alertBox('error', t('owner.settle.invoice_invalid'));
          return errorBox(e);
        }
      },
    });
    if (done) {
      toast(t('owner.settle.confirmed'));
      reload();
    }
  });
  return b;
}

export function settlements(body) {
  mount(body, section(t('counter.tab.settlements'), pagedList('/settlements', (items, reload) => table([
    { label: t('settle.period'), cell: (s) => s.period },
    { label: t('settle.lines'), class: 'num', cell: (s) => String(s.line_count ?? '') },
    { label: t('settle.bill'), class: 'num', cell: (s) => money(s.bill_fen) },
    { label: t('settle.discount'), class: 'num', cell: (s) => money(s.discount_fen) },
    { label: t('settle.subsidy'), class: 'num', cell: (s) => money(s.subsidy_fen) },
    { label: t('owner.settle.invoice'), cell: (s) => h('span', { class: 'mono settle-invoice', text: s.invoice_no || '—' }) },
    { label: t('status'), cell: (s) => h('div', {}, chip(s.status),
      s.status === 'rejected' && s.rejected_reason ? h('div', { class: 'offer-reason offer-reason-rejected' },
        h('span', { class: 'offer-reason-label', text: t('owner.reason.rejected') }),
        h('span', { class: 'offer-reason-text', text: s.rejected_reason })) : null) },
    { label: t('actions'), cell: (s) => settlementActions(s, 'merchant', reload, confirmSettlement) },
  ], items, { rowData: (s) => ({ settlementId: String(s.id), status: s.status }) }))));
}
