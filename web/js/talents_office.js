// The official's talents and cards: registering a talent (an activation code, never a
// password), the talent and card lists with each card's steps, renewals, and — with the
// talent present — the printed card's PIN and the card to print.

import { h, mount } from './util.js';
import { t } from './i18n.js';
import { post, fetchFile } from './api.js';
import { errorBox, alertBox, chip, toast, busy, field, section, table, pagedList } from './ui.js';
import { w } from './access.js';
import { showActivationFor } from './activation.js';
import { ledgerHref } from './ledger.js';
import { pinRules } from './talent.js';
import { actionButton, download, codeButton } from './actions.js';
import { familyButton } from './family_office.js';

const TIERS = ['A', 'B', 'C', 'D', 'E'];

export function talentsView(body, canWrite) {
  const cardActions = (c, reload) => h('div', { class: 'row-tight' },
    h('a', { class: 'btn btn-ghost btn-sm', href: ledgerHref({ card_no: c.card_no }), text: t('search.sales') }),
    c.status === 'active' ? actionButton(t('cards.suspend'), `/cards/${encodeURIComponent(c.card_no)}/suspend`, { ask: t('reason'), onDone: reload }) : null,
    c.status === 'suspended' ? actionButton(t('cards.resume'), `/cards/${encodeURIComponent(c.card_no)}/resume`, { onDone: reload }) : null,
    ['active', 'suspended'].includes(c.status) ? actionButton(t('cards.reissue'), `/cards/${encodeURIComponent(c.card_no)}/reissue`, { ask: t('reason'), onDone: reload }) : null,
    ['active', 'suspended'].includes(c.status) ? actionButton(t('cards.revoke'), `/cards/${encodeURIComponent(c.card_no)}/revoke`, { ask: t('reason'), cls: 'btn-danger-ghost', onDone: reload }) : null,
    ['active', 'suspended'].includes(c.status) ? pinButton(c) : null,
    ['active', 'suspended'].includes(c.status) ? printButton(c) : null);
  const talentList = pagedList('/talents', (items, reload) => table([
    { label: t('t.name'), cell: (p) => h('strong', { text: p.name }) },
    { label: t('t.id_number'), cell: (p) => h('span', { class: 'mono', text: p.id_number_masked || p.id_number || '' }) },
    { label: t('t.phone'), cell: (p) => h('span', { class: 'mono', text: p.phone_masked || p.phone || '' }) },
    { label: t('t.employer'), cell: (p) => p.employer || '' },
    { label: t('t.tier'), cell: (p) => (p.tier ? t(`tier.${p.tier}`) : '') },
    { label: t('card.no'), cell: (p) => (p.card ? h('span', {}, h('span', { class: 'mono', text: p.card.card_no }), ' ', chip(p.card.status)) : '') },
    { label: t('actions'), cell: (p) => h('div', { class: 'row-tight' },
      p.card && ['active', 'suspended'].includes(p.card.status) ? null
        : actionButton(t('t.issue_card'), `/talents/${p.id}/cards`, { onDone: () => { reload(); cards.reload(); } }),
      familyButton(p, cardActions),
      newCodeButton(p)) },
  ], items));
  const cards = pagedList('/cards', (items, reload) => table([
    { label: t('card.no'), cell: (c) => h('span', {}, h('span', { class: 'mono', text: c.card_no }),
      c.kind === 'dependent' ? [' ', h('span', { class: 'chip chip-family', text: t('family.kind') })] : null) },
    { label: t('card.holder'), cell: (c) => c.holder_name || '' },
    { label: t('t.tier'), cell: (c) => c.tier || '' },
    { label: t('card.valid_until'), cell: (c) => c.valid_until || '' },
    { label: t('status'), cell: (c) => chip(c.status) },
    { label: t('actions'), cell: (c) => cardActions(c, reload) },
  ], items));
  const expiring = pagedList('/cards?expiring_within_days=60', (items, reload) => table([
    { label: t('card.no'), cell: (c) => h('span', { class: 'mono', text: c.card_no }) },
    { label: t('card.holder'), cell: (c) => c.holder_name || '' },
    { label: t('card.valid_until'), cell: (c) => c.valid_until || '' },
    { label: t('status'), cell: (c) => chip(c.status) },
    { label: t('actions'), cell: (c) => renewButton(c, () => { reload(); cards.reload(); }) },
  ], items, { rowData: (c) => ({ card: c.card_no }) }));
  mount(body, h('div', { class: 'page-head' }, h('h1', { text: t('off.tab.talents') }),
    w(h('a', { class: 'btn btn-ghost', href: '#/import', id: 'talents-import-link', text: t('import.from_talents') }))),
    canWrite ? talentForm(() => talentList.reload()) : null,
    section(t('renew.title'), expiring,
      h('div', { class: 'row-end' }, download('/api/v1/cards/expiring/export?expiring_within_days=60', t('renew.export')))),
    section(t('off.tab.talents'), talentList),
    section(t('cards.lookup'), cards));
}

/** Renew a card: a new last day (three years on by default), the same number and codes. */
function renewButton(c, onDone) {
  const b = w(h('button', { class: 'btn btn-primary btn-sm', type: 'button', dataset: { action: 'renew' }, text: t('renew.action') }));
  if (!b) return null;
  b.addEventListener('click', () => {
    const [y, m, d] = String(c.valid_until).split('-');
    const until = h('input', { class: 'input', type: 'date', name: 'valid_until', id: 'renew-until', required: true, value: `${Number(y) + 3}-${m}-${d}` });
    const msg = h('div', { class: 'dialog-msg' });
    const ok = h('button', { type: 'submit', class: 'btn btn-primary', id: 'renew-submit', text: t('renew.action') });
    const dlg = h('dialog', { class: 'dialog', id: 'renew-dialog', 'aria-labelledby': 'renew-title' });
    const form = h('form', { class: 'dialog-body', novalidate: true },
      h('h3', { id: 'renew-title', text: `${t('renew.action')} · ${c.card_no} · ${c.holder_name || ''}` }),
      field(t('renew.until'), until),
      msg,
      h('div', { class: 'row-end' },
        h('button', { type: 'button', class: 'btn btn-ghost', text: t('cancel'), onclick: () => dlg.close() }),
        ok));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(ok, async () => {
        try {
          await post(`/cards/${encodeURIComponent(c.card_no)}/renew`, { valid_until: until.value });
          dlg.close();
          toast(t('renew.done'));
          onDone();
        } catch (err) {
          mount(msg, errorBox(err));
        }
      });
    });
    dlg.append(form);
    dlg.addEventListener('close', () => dlg.remove());
    document.body.append(dlg);
    dlg.showModal();
    until.focus();
  });
  return b;
}

const newCodeButton = (p) => codeButton(`/talents/${encodeURIComponent(p.id)}/activation`, p.name);

function talentForm(onCreated) {
  const inputs = {
    name: h('input', { class: 'input', name: 'name' }),
    id_number: h('input', { class: 'input mono', name: 'id_number', maxlength: '18', autocomplete: 'off' }),
    phone: h('input', { class: 'input mono', name: 'phone', inputmode: 'tel', maxlength: '11' }),
    employer: h('input', { class: 'input', name: 'employer' }),
    tier: h('select', { class: 'input select', name: 'tier' }, TIERS.map((x) => h('option', { value: x, text: t(`tier.${x}`) }))),
  };
  const msg = h('div', { class: 'form-msg' });
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', text: t('submit') });
  const form = h('form', { class: 'form-grid', novalidate: true },
    Object.entries(inputs).map(([k, el]) => field(t(`t.${k}`), el)),
    h('div', { class: 'field-wide' }, msg, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const payload = Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value.trim()]));
    busy(submit, async () => {
      try {
        // No password: the talent sets their own with the activation code shown once here.
        const made = await post('/talents', payload);
        mount(msg, alertBox('ok', t('t.created')));
        form.reset();
        onCreated();
        if (made && made.activation) showActivationFor(made.activation, made.login.username, made.name);
      } catch (err) {
        mount(msg, errorBox(err));
      }
    });
  });
  return w(h('details', { class: 'panel collapsible' }, h('summary', { class: 'panel-title', text: t('t.new') }), form));
}

/** A modal dialog that removes itself when closed. */
function modal(id, ...content) {
  const dlg = h('dialog', { class: 'dialog', id, 'aria-labelledby': `${id}-title` }, ...content);
  document.body.append(dlg);
  dlg.addEventListener('close', () => dlg.remove());
  return dlg;
}

/**
 * Sets the printed card's PIN with the talent at the desk: the talent types it (twice)
 * on this screen; the official never needs to know it. Audited by the server.
 */
function pinButton(c) {
  const b = w(h('button', { class: 'btn btn-ghost btn-sm', type: 'button', dataset: { action: 'pin' }, text: t('offpin.open') }));
  if (!b) return null;
  b.addEventListener('click', () => {
    const pin = h('input', { class: 'input mono pin-input', type: 'password', inputmode: 'numeric', autocomplete: 'off', maxlength: '6', name: 'pin', id: 'offpin-pin' });
    const again = h('input', { class: 'input mono pin-input', type: 'password', inputmode: 'numeric', autocomplete: 'off', maxlength: '6', name: 'pin_again', id: 'offpin-again' });
    const rules = h('ul', { class: 'pin-rules' });
    const msg = h('div', { class: 'dialog-msg' });
    const ok = h('button', { type: 'submit', class: 'btn btn-primary', id: 'offpin-submit', text: t('mypin.submit') });
    const check = () => {
      const list = pinRules(pin.value).filter((r) => r.ok !== null);
      list.push({ id: 'match', ok: pin.value.length === 6 && pin.value === again.value });
      mount(rules, list.map((r) => h('li', { class: ['pin-rule', r.ok ? 'is-ok' : 'is-bad'], text: `${r.ok ? '✓' : '✕'} ${t(`mypin.rule.${r.id}`)}` })));
      return list.every((r) => r.ok);
    };
    // What was refused is about the PIN as it was: typing again clears it.
    const retyped = () => { mount(msg); check(); };
    pin.addEventListener('input', retyped);
    again.addEventListener('input', retyped);
    const form = h('form', { class: 'dialog-body', novalidate: true },
      h('h3', { id: 'offpin-title', text: `${t('offpin.title')} · ${c.card_no} · ${c.holder_name || ''}` }),
      alertBox('warn', t('offpin.present')),
      field(t('mypin.pin'), pin),
      field(t('mypin.again'), again),
      rules,
      h('p', { class: 'muted small', text: t('mypin.rule.birth') }),
      msg,
      h('div', { class: 'row-end' },
        h('button', { type: 'button', class: 'btn btn-ghost', text: t('cancel'), onclick: () => dlg.close() }),
        ok));
    const dlg = modal('offpin', form);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (!check()) {
        mount(msg, alertBox('error', pin.value === again.value ? t('mypin.refused') : t('mypin.mismatch')));
        return;
      }
      busy(ok, async () => {
        try {
          await post(`/cards/${encodeURIComponent(c.card_no)}/pin`, { pin: pin.value });
          dlg.close();
          toast(t('offpin.done'));
        } catch (err) {
          mount(msg, errorBox(err));
        }
      });
    });
    check();
    dlg.showModal();
    pin.focus();
  });
  return b;
}

/** The card to print (an ID-1 SVG): opened in a tab of its own to print at 100 %. */
function printButton(c) {
  const b = w(h('button', { class: 'btn btn-ghost btn-sm', type: 'button', dataset: { action: 'print' }, text: t('mypin.print') }));
  if (!b) return null;
  b.addEventListener('click', () => busy(b, async () => {
    try {
      const { blob } = await fetchFile(`/cards/${encodeURIComponent(c.card_no)}/print`);
      const text = await blob.text();
      // The preview is a data: image (the page's policy allows those, not blob: images);
      // the tab to print from opens the SVG itself.
      const url = URL.createObjectURL(new Blob([text], { type: 'image/svg+xml' }));
      const open = h('a', { class: 'btn btn-primary', id: 'offprint-open', href: url, target: '_blank', rel: 'noopener', text: t('mypin.print_open') });
      const close = h('button', { type: 'button', class: 'btn btn-ghost', text: t('close') });
      const dlg = modal('offprint', h('div', { class: 'dialog-body' },
        h('h3', { id: 'offprint-title', text: `${t('mypin.print_title')} · ${c.card_no}` }),
        h('img', { class: 'print-preview', src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(text)}`, alt: t('mypin.print_alt', { no: c.card_no }) }),
        h('p', { class: 'muted', text: t('mypin.print_lead') }),
        h('div', { class: 'row-end' }, close, open)));
      close.addEventListener('click', () => dlg.close());
      dlg.addEventListener('close', () => setTimeout(() => URL.revokeObjectURL(url), 60_000));
      dlg.showModal();
    } catch (e) {
      toast(e);
    }
  }));
  return b;
}
