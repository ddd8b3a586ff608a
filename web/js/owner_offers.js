// The merchant owner's offers (the counter face's 优惠 tab): the list with the reasons an
// official gave, publishing, revising (a new version), pausing, resuming and ending.

import { h, mount, money, parseYuan, parsePercentBp, percent, shanghaiDate } from './util.js';
import { t, has } from './i18n.js';
import { post, list, describe } from './api.js';
import { errorBox, alertBox, chip, busy, field, section, table, pagedList, dialogAsk } from './ui.js';
import { describeOffer } from './talent.js';

const TIERS = ['A', 'B', 'C', 'D', 'E'];

/** Yuan for an amount field, from fen ("12.50"); '' when there is none. */
function yuanInput(fen) {
  if (fen === null || fen === undefined) return '';
  const n = Number(fen);
  return `${Math.floor(n / 100)}.${String(n % 100).padStart(2, '0')}`;
}

/** Percent for a rate field, from basis points ("12.5"); '' when there is none. */
function percentInput(bp) {
  if (bp === null || bp === undefined) return '';
  return (Number(bp) / 100).toFixed(2).replace(/\.?0+$/, '');
}

/** The local date an offer starts on, or the last local date it runs through. */
function offerDate(value, isEnd) {
  if (!value) return '';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return '';
  // A validity typed as a date ends at the next local midnight (exclusive).
  return shanghaiDate(isEnd ? new Date(d.getTime() - 1) : d);
}

const LIVE = ['pending', 'active', 'paused'];

/** The owner's words for a reason the server wrote itself (a revision's bookkeeping). */
function offerReason(o, byId) {
  const r = o.status_reason || '';
  const replaced = /^replaced by offer (\d+)$/.exec(r);
  if (replaced) {
    const next = byId.get(Number(replaced[1]));
    return t('owner.offer.replaced_by', { title: next ? next.title : t('owner.offer.a_revision') });
  }
  if (r === 'withdrawn by a revision') return t('owner.offer.withdrawn_by_revision');
  return r;
}

/** What the owner needs to read under an offer: why it stopped, and where a revision stands. */
function offerNotes(o, byId, items) {
  const notes = [];
  if (o.status_reason && ['rejected', 'paused', 'ended'].includes(o.status)) {
    notes.push(h('div', { class: ['offer-reason', `offer-reason-${o.status}`], dataset: { reason: o.status } },
      h('span', { class: 'offer-reason-label', text: t(`owner.reason.${o.status}`) }),
      h('span', { class: 'offer-reason-text', text: offerReason(o, byId) })));
  }
  const old = o.replaces_id ? byId.get(o.replaces_id) : null;
  if (o.replaces_id && o.status === 'pending') {
    notes.push(h('div', { class: 'offer-note', dataset: { note: 'revision-pending' } },
      t(old && LIVE.includes(old.status) ? 'owner.offer.revision_waiting_old_runs' : 'owner.offer.revision_waiting', { title: old ? old.title : '' })));
  } else if (o.replaces_id && o.status === 'rejected') {
    notes.push(h('div', { class: 'offer-note' }, t(old && LIVE.includes(old.status) ? 'owner.offer.revision_rejected_old_runs' : 'owner.offer.revision_rejected', { title: old ? old.title : '' })));
  }
  const waiting = items.find((x) => x.replaces_id === o.id && x.status === 'pending');
  if (waiting && LIVE.includes(o.status)) {
    notes.push(h('div', { class: 'offer-note', dataset: { note: 'has-revision' } }, t('owner.offer.has_revision', { title: waiting.title })));
  }
  return notes;
}

function offerTerms(o) {
  const parts = [describeOffer(o)];
  if (o.per_card_daily) parts.push(t('owner.offer.daily', { n: o.per_card_daily }));
  if (o.per_card_monthly) parts.push(t('owner.offer.monthly', { n: o.per_card_monthly }));
  parts.push(t(o.dependents ? 'offer.family_yes' : 'offer.family_no'));
  const from = offerDate(o.valid_from, false);
  const until = offerDate(o.valid_until, true);
  if (from) parts.push(t('owner.offer.from', { d: from }));
  if (until) parts.push(t('owner.offer.until', { d: until }));
  return parts.filter(Boolean).join(' · ');
}

// Live offers first (newest on top), then what has ended or was refused.
function offerOrder(a, b) {
  const rank = (o) => (LIVE.includes(o.status) ? 0 : 1);
  return rank(a) - rank(b) || b.id - a.id;
}

export function offers(body, me) {
  const notice = h('div', { id: 'offer-notice', 'aria-live': 'polite' });
  const say = (kind, title, detail) => mount(notice, alertBox(kind, title, detail));
  const listBox = pagedList('/offers', (items, reload) => {
    const byId = new Map(items.map((o) => [o.id, o]));
    const sorted = [...items].sort(offerOrder);
    return table([
      { label: t('offers.title'), cell: (o) => h('div', { class: 'offer-cell' },
        h('strong', { class: 'offer-title', text: o.title }),
        h('div', { class: 'muted small', text: offerTerms(o) }),
        offerNotes(o, byId, items)) },
      { label: t('offers.tiers'), cell: (o) => (o.tiers || []).join(' ') },
      { label: t('offers.subsidy'), class: 'num', cell: (o) => (o.subsidy_bp !== undefined ? percent(o.subsidy_bp) : '') },
      { label: t('status'), cell: (o) => chip(o.status) },
      { label: t('actions'), cell: (o) => offerActions(o, me, items, reload, say) },
    ], sorted, { class: 'offer-table', rowData: (o) => ({ offerId: String(o.id), status: o.status }) });
  }, 200);
  mount(body, offerForm(me, () => listBox.reload()), notice, section(t('counter.tab.offers'), listBox));
}

function offerActions(o, me, items, reload, say) {
  const out = [];
  const waiting = items.some((x) => x.replaces_id === o.id && x.status === 'pending');
  const button = (action, label, cls = 'btn-ghost') => h('button', { class: `btn ${cls} btn-sm`, type: 'button', text: label, dataset: { action } });
  if (LIVE.includes(o.status) && !waiting) {
    const b = button('revise', t('owner.offer.revise'));
    b.addEventListener('click', () => reviseOffer(o, me, 'revise', (saved) => {
      say('ok', t(saved.status === 'pending' ? 'owner.offer.revised_pending' : 'owner.offer.revised_live', { title: saved.title }),
        saved.status === 'pending' ? t('owner.offer.revised_pending_detail') : '');
      reload();
    }));
    out.push(b);
  }
  if (o.status === 'rejected' && !items.some((x) => x.replaces_id === o.id)) {
    const b = button('resubmit', t('owner.offer.resubmit'));
    b.addEventListener('click', () => reviseOffer(o, me, 'resubmit', (saved) => {
      say('ok', t(saved.status === 'pending' ? 'owner.offer.resubmitted' : 'owner.offer.created_live', { title: saved.title }));
      reload();
    }));
    out.push(b);
  }
  const step = o.status === 'active' ? 'pause' : o.status === 'paused' ? 'resume' : null;
  if (step) {
    const b = button(step, t(`offers.${step}`));
    b.addEventListener('click', () => busy(b, async () => {
      try {
        await post(`/offers/${encodeURIComponent(o.id)}/${step}`);
        reload();
      } catch (e) {
        say('error', describe(e).title, describe(e).detail);
      }
    }));
    out.push(b);
  }
  if (LIVE.includes(o.status)) {
    const withdraw = o.status === 'pending';
    const b = button('end', t(withdraw ? 'owner.offer.withdraw' : 'owner.offer.end'), 'btn-danger-ghost');
    b.addEventListener('click', () => endOffer(o, withdraw, () => {
      say('ok', t(withdraw ? 'owner.offer.withdrawn' : 'owner.offer.ended', { title: o.title }));
      reload();
    }));
    out.push(b);
  }
  return out.length ? h('div', { class: 'row-tight' }, out) : '';
}

async function endOffer(o, withdraw, onDone) {
  const reason = h('textarea', { class: 'input', rows: '3', name: 'reason', id: 'offer-end-reason' });
  const done = await dialogAsk({
    id: 'offer-end',
    title: t(withdraw ? 'owner.offer.withdraw_title' : 'owner.offer.end_title', { title: o.title }),
    lead: t(withdraw ? 'owner.offer.withdraw_lead' : 'owner.offer.end_lead'),
    content: field(t('owner.offer.end_reason'), reason, t('owner.offer.end_reason_hint')),
    confirmText: t(withdraw ? 'owner.offer.withdraw' : 'owner.offer.end'),
    danger: true,
    work: async () => {
      const text = reason.value.trim();
      try {
        await post(`/offers/${encodeURIComponent(o.id)}/end`, text ? { reason: text } : {});
        return null;
      } catch (e) {
        return errorBox(e);
      }
    },
  });
  if (done) onDone();
}

/** The revise form in a dialog, filled with the offer's terms ("resubmit": a new offer from a refused one). */
async function reviseOffer(o, me, mode, onDone) {
  const f = offerFields(o);
  let saved = null;
  const done = await dialogAsk({
    id: 'offer-revise',
    title: t(mode === 'revise' ? 'owner.offer.revise_title' : 'owner.offer.resubmit_title', { title: o.title }),
    lead: t(mode === 'revise' ? (o.status === 'pending' ? 'owner.offer.revise_lead_pending' : 'owner.offer.revise_lead') : 'owner.offer.resubmit_lead'),
    content: f.grid,
    confirmText: t(mode === 'revise' ? 'owner.offer.revise_submit' : 'submit'),
    wide: true,
    work: async () => {
      const problem = f.check();
      if (problem) return alertBox('error', problem);
      try {
        saved = mode === 'revise'
          ? await post(`/offers/${encodeURIComponent(o.id)}/revise`, f.body())
          : await post(`/merchants/${encodeURIComponent(me.merchant_id)}/offers`, f.body());
        return null;
      } catch (e) {
        return errorBox(e);
      }
    },
  });
  if (done && saved) onDone(saved);
}

/** The inputs of an offer's terms, filled from `o` when given; `body()` is the request. */
function offerFields(o) {
  const title = h('input', { class: 'input', name: 'title', required: true, maxlength: '100', value: o ? o.title : '' });
  const kind = h('select', { class: 'input select', name: 'kind' },
    h('option', { value: 'percent', text: t('offers.kind.percent'), selected: !o || o.kind === 'percent' }),
    h('option', { value: 'fixed', text: t('offers.kind.fixed'), selected: o && o.kind === 'fixed' }));
  const pct = h('input', { class: 'input', name: 'percent', inputmode: 'decimal', placeholder: '10', value: o ? percentInput(o.percent_bp) : '' });
  const amount = h('input', { class: 'input', name: 'amount', inputmode: 'decimal', placeholder: '20.00', value: o ? yuanInput(o.amount_fen) : '' });
  const minSpend = h('input', { class: 'input', name: 'min_spend', inputmode: 'decimal', value: o ? yuanInput(o.min_spend_fen) : '0' });
  const maxDisc = h('input', { class: 'input', name: 'max_discount', inputmode: 'decimal', value: o ? yuanInput(o.max_discount_fen) : '' });
  const daily = h('input', { class: 'input', name: 'daily', inputmode: 'numeric', value: o && o.per_card_daily ? String(o.per_card_daily) : '' });
  const monthly = h('input', { class: 'input', name: 'monthly', inputmode: 'numeric', value: o && o.per_card_monthly ? String(o.per_card_monthly) : '' });
  const subsidy = h('input', { class: 'input', name: 'subsidy', inputmode: 'decimal', value: o ? percentInput(o.subsidy_bp) : '50' });
  // A validity kept as it was is sent back as the server gave it (to the second); a
  // changed one as a local date.
  const shownFrom = o ? offerDate(o.valid_from, false) : '';
  const shownUntil = o ? offerDate(o.valid_until, true) : '';
  const from = h('input', { class: 'input', name: 'valid_from', type: 'date', value: shownFrom });
  const until = h('input', { class: 'input', name: 'valid_until', type: 'date', value: shownUntil });
  const tierSet = o ? new Set(o.tiers || []) : null;
  const tiers = TIERS.map((tier) => h('input', { type: 'checkbox', name: 'tier', value: tier, checked: !tierSet || tierSet.has(tier) }));
  // Family cards (附属卡) only where the merchant says so: part of the money terms.
  const dependents = h('input', { type: 'checkbox', name: 'dependents', id: 'offer-dependents', checked: Boolean(o && o.dependents) });
  const pctField = field(t('offers.percent'), pct);
  const amtField = field(t('offers.amount'), amount);
  const maxField = field(t('offers.max_discount'), maxDisc);
  const sync = () => {
    pctField.hidden = kind.value !== 'percent';
    maxField.hidden = kind.value !== 'percent';
    amtField.hidden = kind.value !== 'fixed';
  };
  kind.addEventListener('change', sync);
  sync();
  const titleField = field(t('offers.title'), title);
  const subsidyField = field(t('offers.subsidy'), subsidy, t('owner.offer.subsidy_hint'));
  // The wide ones carry long text; the short fields pair up on a phone.
  titleField.classList.add('field-wide');
  subsidyField.classList.add('field-wide');
  const grid = h('div', { class: 'form-grid offer-grid' },
    titleField, field(t('offers.kind'), kind), pctField, amtField,
    field(t('offers.min_spend'), minSpend), maxField,
    field(t('offers.daily'), daily), field(t('offers.monthly'), monthly),
    subsidyField,
    field(t('owner.offer.valid_from'), from), field(t('owner.offer.valid_until'), until),
    h('fieldset', { class: 'field field-wide' }, h('legend', { class: 'field-label', text: t('offers.tiers') }),
      h('div', { class: 'row' }, tiers.map((c) => h('label', { class: 'check' }, c, t(`tier.${c.value}`))))),
    h('div', { class: 'field field-wide' },
      h('label', { class: 'check' }, dependents, t('field.dependents')),
      h('p', { class: 'muted small', text: t('offer.family_hint') })));
  const optInt = (el) => (el.value.trim() ? Number.parseInt(el.value, 10) : undefined);
  const date = (el, shown, original) => {
    if (!el.value) return undefined;
    return el.value === shown && original ? original : el.value;
  };
  function check() {
    if (!title.value.trim()) return t('owner.offer.need_title');
    for (const el of [minSpend, ...(kind.value === 'percent' ? [maxDisc] : [amount])]) {
      if (el.value.trim() && parseYuan(el.value) === null) return t('owner.offer.bad_money');
    }
    if (kind.value === 'percent' && parsePercentBp(pct.value) === null) return t('owner.offer.bad_percent');
    if (parsePercentBp(subsidy.value) === null) return t('owner.offer.bad_percent');
    if (!tiers.some((c) => c.checked)) return t('owner.offer.need_tier');
    return null;
  }
  function body() {
    const b = {
      title: title.value.trim(),
      kind: kind.value,
      min_spend_fen: parseYuan(minSpend.value || '0'),
      tiers: tiers.filter((c) => c.checked).map((c) => c.value),
      subsidy_bp: parsePercentBp(subsidy.value),
      per_card_daily: optInt(daily),
      per_card_monthly: optInt(monthly),
      dependents: dependents.checked,
      valid_from: date(from, shownFrom, o && o.valid_from),
      valid_until: date(until, shownUntil, o && o.valid_until),
    };
    if (kind.value === 'percent') {
      b.percent_bp = parsePercentBp(pct.value);
      if (maxDisc.value.trim()) b.max_discount_fen = parseYuan(maxDisc.value);
    } else {
      b.amount_fen = parseYuan(amount.value);
    }
    return b;
  }
  function reset() {
    for (const el of [title, pct, amount, maxDisc, daily, monthly, from, until]) el.value = '';
    minSpend.value = '0';
    subsidy.value = '50';
    kind.value = 'percent';
    for (const c of tiers) c.checked = true;
    sync();
  }
  return { grid, check, body, reset };
}

function offerForm(me, onCreated) {
  const f = offerFields(null);
  const msg = h('div', { class: 'form-msg', 'aria-live': 'polite' });
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', text: t('submit') });
  const form = h('form', { novalidate: true }, f.grid, h('div', { class: 'field-wide' }, msg, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const problem = f.check();
    if (problem) {
      mount(msg, alertBox('error', problem));
      return;
    }
    busy(submit, async () => {
      try {
        const saved = await post(`/merchants/${encodeURIComponent(me.merchant_id)}/offers`, f.body());
        mount(msg, alertBox('ok', saved && saved.status === 'active' ? t('owner.offer.created_live', { title: saved.title }) : t('offers.created')));
        f.reset();
        onCreated();
      } catch (err) {
        mount(msg, errorBox(err));
      }
    });
  });
  return h('details', { class: 'panel collapsible' }, h('summary', { class: 'panel-title', text: t('offers.new') }), form);
}
