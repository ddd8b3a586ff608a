// Family cards (附属卡) at the talent office: a talent's family on their row, with each
// family card's own steps, and adding a spouse, child or parent (at most four) — with
// a login by activation code when they have a phone, or the printed card and a PIN.

import { h, mount } from './util.js';
import { t } from './i18n.js';
import { get, post } from './api.js';
import { errorBox, alertBox, chip, toast, busy, field, loading, table } from './ui.js';
import { w } from './access.js';
import { showActivationFor } from './activation.js';

const RELATIONS = ['spouse', 'child', 'parent'];

/** The "family" button on a talent's row: opens their card's family. */
export function familyButton(p, cardActions) {
  if (!p.card || !['active', 'suspended'].includes(p.card.status)) return null;
  const b = h('button', { class: 'btn btn-ghost btn-sm', type: 'button', dataset: { action: 'family' }, text: t('family.open') });
  b.addEventListener('click', () => openFamily(p, cardActions));
  return b;
}

function openFamily(p, cardActions) {
  const cardNo = p.card.card_no;
  const listBox = h('div', { id: 'family-list' }, loading());
  const close = h('button', { type: 'button', class: 'btn btn-ghost', text: t('close') });
  const dlg = h('dialog', { class: 'dialog dialog-wide', id: 'family-dialog', 'aria-labelledby': 'family-dialog-title' },
    h('div', { class: 'dialog-body' },
      h('h3', { id: 'family-dialog-title', text: `${t('family.title')} · ${p.name} · ${cardNo}` }),
      listBox,
      p.card.status === 'active' ? addForm(cardNo, () => load()) : alertBox('warn', t('family.principal_inactive')),
      h('div', { class: 'row-end' }, close)));
  close.addEventListener('click', () => dlg.close());
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();

  async function load() {
    try {
      const members = await get(`/cards/${encodeURIComponent(cardNo)}/dependents`);
      mount(listBox, members.length
        ? table([
          { label: t('t.name'), cell: (m) => h('strong', { class: 'nowrap', text: m.name }) },
          { label: t('field.relation'), cell: (m) => t(`family.relation.${m.relation}`) },
          { label: t('t.id_number'), cell: (m) => h('span', { class: 'mono', text: m.id_number_masked }) },
          { label: t('t.phone'), cell: (m) => m.phone_masked || t('family.no_phone') },
          { label: t('card.no'), cell: (m) => h('span', { class: 'mono', text: m.card.card_no }) },
          { label: t('status'), cell: (m) => chip(m.card.status) },
          { label: t('actions'), cell: (m) => cardActions({ ...m.card, holder_name: m.name }, load) },
        ], members)
        : h('p', { class: 'muted', text: t('family.none') }));
    } catch (e) {
      mount(listBox, errorBox(e));
    }
  }
  load();
}

function addForm(cardNo, onAdded) {
  const inputs = {
    name: h('input', { class: 'input', name: 'name', id: 'family-name' }),
    id_number: h('input', { class: 'input mono', name: 'id_number', id: 'family-id-number', maxlength: '18', autocomplete: 'off' }),
    relation: h('select', { class: 'input select', name: 'relation', id: 'family-relation' },
      RELATIONS.map((r) => h('option', { value: r, text: t(`family.relation.${r}`) }))),
    phone: h('input', { class: 'input mono', name: 'phone', id: 'family-phone', inputmode: 'tel', maxlength: '11' }),
  };
  const msg = h('div', { class: 'form-msg' });
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', id: 'family-add', text: t('family.add') });
  const form = h('form', { class: 'form-grid', novalidate: true },
    field(t('t.name'), inputs.name),
    field(t('t.id_number'), inputs.id_number),
    field(t('field.relation'), inputs.relation),
    field(t('family.phone_optional'), inputs.phone, t('family.phone_hint')),
    h('div', { class: 'field-wide' }, msg, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const body = {
      name: inputs.name.value.trim(),
      id_number: inputs.id_number.value.trim(),
      relation: inputs.relation.value,
    };
    // No phone, no login: the printed card and a PIN serve instead.
    if (inputs.phone.value.trim()) body.phone = inputs.phone.value.trim();
    busy(submit, async () => {
      try {
        const added = await post(`/cards/${encodeURIComponent(cardNo)}/dependents`, body);
        mount(msg, alertBox('ok', t('family.added', { no: added.card.card_no })));
        form.reset();
        onAdded();
        if (added.activation) showActivationFor(added.activation, added.username, added.member.name);
        else toast(t('family.added_no_login'));
      } catch (err) {
        mount(msg, errorBox(err));
      }
    });
  });
  return w(h('details', { class: 'panel collapsible family-add' }, h('summary', { class: 'panel-title', text: t('family.add_title') }), form));
}
