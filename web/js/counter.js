// The counter face for merchant owners and cashiers: scan → quote → confirm → receipt,
// today's redemptions with reversal; owners also manage offers, cashiers and settlements.

import { h, mount, money, parseYuan, parsePercentBp, percent, dateTime, timeOnly, shanghaiDate, uuid } from './util.js';
import { t, has } from './i18n.js';
import { get, post, list, ApiError } from './api.js';
import { errorBox, alertBox, emptyState, chip, loading, tabs, toast, askText, stat, busy, field, section, table, pagedList, revealActiveTab } from './ui.js';
import { describeOffer } from './talent.js';
import { settlementActions } from './official.js';
import { heldView, heldBadge } from './anomalies.js';

const TIERS = ['A', 'B', 'C', 'D', 'E'];

export function render(root, ctx) {
  const owner = ctx.me.role === 'merchant';
  const ids = owner ? ['scan', 'today', 'offers', 'cashiers', 'settlements', 'held'] : ['scan', 'today'];
  const tab = ids.includes(ctx.tab) ? ctx.tab : 'scan';
  const body = h('div', { class: 'face-body' });
  const nav = tabs(ids.map((id) => ({ id, label: t(`counter.tab.${id}`) })), tab, ctx.go);
  mount(root, h('div', { class: 'face face-counter' }, nav, body));
  revealActiveTab(nav);
  if (owner) heldBadge(nav, 'held');
  if (tab === 'today') return today(body);
  if (tab === 'offers') return offers(body, ctx.me);
  if (tab === 'cashiers') return cashiers(body, ctx.me);
  if (tab === 'settlements') return settlements(body);
  if (tab === 'held') return heldView(body);
  return scan(body);
}

/** The refusal of a scanned code, localised, big enough to read across the counter. */
function refusal(err) {
  return h('div', { class: 'refusal', id: 'scan-refusal', dataset: { code: err.code || '' } }, errorBox(err));
}

/** Why an offer does not apply: our words for the code, else the server's detail. */
function reasonText(reason, detail) {
  if (!reason) return detail || '';
  return has(`err.${reason}`) ? t(`err.${reason}`) : detail || reason;
}

function scan(body) {
  const code = h('input', { class: 'input input-xl', id: 'scan-code', name: 'code', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', placeholder: t('scan.code_ph'), enterkeyhint: 'next' });
  const bill = h('input', { class: 'input input-xl', id: 'scan-bill', name: 'bill', inputmode: 'decimal', autocomplete: 'off', placeholder: t('scan.bill_ph'), enterkeyhint: 'go' });
  const quoteBtn = h('button', { class: 'btn btn-primary btn-lg', id: 'scan-quote', type: 'submit', text: t('scan.quote') });
  const msg = h('div', { class: 'scan-msg', id: 'scan-msg' });
  const result = h('div', { class: 'scan-result', id: 'scan-result' });
  const camBox = h('div', { class: 'camera' });
  let stopCamera = () => {};

  const form = h('form', { class: 'scan-form panel', id: 'scan-form', novalidate: true },
    field(t('scan.code'), code),
    field(t('scan.bill'), bill),
    h('div', { class: 'row' }, quoteBtn,
      'BarcodeDetector' in window ? h('button', { type: 'button', class: 'btn btn-ghost', id: 'scan-camera', text: t('scan.camera'), onclick: () => toggleCamera() }) : null),
    camBox, msg);
  mount(body, h('div', { class: 'scan-layout' }, form, result));

  function reset() {
    stopCamera();
    code.value = '';
    bill.value = '';
    msg.replaceChildren();
    mount(result, h('div', { class: 'scan-idle muted', text: t('scan.ready') }));
    code.focus();
  }

  // A handheld scanner types the code and presses Enter: with the bill already typed the
  // quote follows at once, otherwise the cursor moves on to the bill.
  code.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      if (code.value.trim() && parseYuan(bill.value) === null) bill.focus();
      else form.requestSubmit();
    }
  });
  // A scan that lands in the bill field (the cashier typed the bill first and left the
  // cursor there) is a code, not an amount: move it where it belongs.
  bill.addEventListener('keydown', (e) => {
    const typed = bill.value.replace(/\s/g, '');
    if (e.key === 'Enter' && parseYuan(typed) === null && typed.length >= 12) {
      e.preventDefault();
      code.value = typed;
      bill.value = '';
      mount(msg, alertBox('warn', t('scan.moved_to_code')));
      bill.focus();
    }
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    quote();
  });

  async function quote() {
    msg.replaceChildren();
    const c = code.value.trim();
    const fen = parseYuan(bill.value);
    if (!c) {
      mount(msg, alertBox('error', t('scan.code_missing')));
      code.focus();
      return;
    }
    if (fen === null) {
      mount(msg, alertBox('error', t('scan.bill_invalid')));
      bill.focus();
      return;
    }
    await busy(quoteBtn, async () => {
      mount(result, loading());
      try {
        const q = await post('/redemptions/quote', { code: c, bill_fen: fen });
        showQuote(c, fen, q);
      } catch (err) {
        mount(result, refusal(err), again());
      }
    });
  }

  function again() {
    return h('button', { class: 'btn btn-ghost btn-lg', id: 'scan-again', text: t('quote.again'), onclick: reset });
  }

  function showQuote(c, fen, q) {
    const offersList = q.offers || [];
    let chosenId = q.chosen ? q.chosen.offer_id : null;
    // One key per confirmed quote: a retry after a lost answer reuses it, a new choice does not.
    let key = uuid();
    const figures = h('div', { class: 'quote-figures' });
    const confirm = h('button', { class: 'btn btn-primary btn-xl', id: 'quote-confirm', text: t('quote.confirm') });

    function chosen() {
      return offersList.find((o) => o.offer_id === chosenId && o.eligible !== false) || null;
    }
    function drawFigures() {
      const o = chosen() || (q.chosen && q.chosen.offer_id === chosenId ? q.chosen : null);
      confirm.disabled = !o;
      mount(figures,
        h('div', { class: 'qf-row' }, h('span', { text: t('quote.bill') }), h('span', { class: 'qf-val', text: money(fen) })),
        h('div', { class: 'qf-row qf-discount' }, h('span', { text: t('quote.discount') }), h('span', { class: 'qf-val', id: 'quote-discount', text: o ? `-${money(o.discount_fen)}` : '—' })),
        h('div', { class: 'qf-row qf-pay' }, h('span', { text: t('quote.pay') }), h('span', { class: 'qf-val', id: 'quote-pay', text: money(o ? o.paid_fen : fen) })),
        o ? h('div', { class: 'qf-row qf-subsidy muted' }, h('span', { text: t('quote.subsidy') }), h('span', { class: 'qf-val', text: money(o.subsidy_fen) })) : null,
        o ? null : alertBox('warn', t('quote.no_offer')));
    }
    confirm.addEventListener('click', () => busy(confirm, async () => {
      try {
        const r = await post('/redemptions', { code: c, bill_fen: fen, offer_id: chosenId }, { 'Idempotency-Key': key });
        showReceipt(q, r);
      } catch (err) {
        if (err instanceof ApiError && err.code === 'network') {
          // Same key on retry: the server answers the first result, never a second redemption.
          mount(msg, errorBox(err));
          return;
        }
        mount(result, refusal(err), again());
      }
    }));

    mount(result, h('div', { class: 'quote panel', id: 'quote' },
      h('div', { class: 'quote-talent' },
        h('span', { class: 'muted small', text: t('quote.talent') }),
        h('span', { class: 'quote-name', id: 'quote-name', text: (q.talent && q.talent.masked_name) || '—' }),
        q.tier ? h('span', { class: 'chip', id: 'quote-tier', text: t(`tier.${q.tier}`) }) : null),
      offersList.length ? h('fieldset', { class: 'quote-offers' },
        h('legend', { class: 'muted small', text: t('quote.offer') }),
        offersList.map((o) => {
          const radio = h('input', { type: 'radio', name: 'offer', value: String(o.offer_id), checked: o.offer_id === chosenId, disabled: o.eligible === false });
          radio.addEventListener('change', () => { chosenId = o.offer_id; key = uuid(); drawFigures(); });
          return h('label', { class: ['offer-choice', o.eligible === false && 'is-ineligible'] }, radio,
            h('span', { class: 'offer-choice-title', text: o.title }),
            o.eligible === false ? h('span', { class: 'muted small', text: reasonText(o.reason, o.reason_detail) }) : h('span', { class: 'offer-choice-amt', text: `-${money(o.discount_fen)}` }));
        })) : null,
      figures,
      h('div', { class: 'row' }, confirm, h('button', { class: 'btn btn-ghost btn-lg', text: t('cancel'), onclick: reset }))));
    drawFigures();
    confirm.focus();
  }

  function showReceipt(q, r) {
    // A reversed sale must never read like one to collect money for: the amount gives
    // way to REVERSED, in red, and the reverse button goes.
    const reversed = r.status === 'reversed';
    const reverseBtn = reversed ? null : h('button', { class: 'btn btn-danger-ghost', id: 'receipt-reverse', text: t('reverse') });
    if (reverseBtn) reverseBtn.addEventListener('click', () => reverse(r, reverseBtn, () => showReceipt(q, { ...r, status: 'reversed' })));
    mount(result, h('div', { class: ['receipt panel', reversed && 'is-reversed'], id: 'receipt', dataset: { status: reversed ? 'reversed' : 'active' } },
      h('div', { class: 'receipt-head' },
        h('div', { class: 'receipt-check', 'aria-hidden': 'true', text: reversed ? '✕' : '✓' }),
        h('h2', { text: t(reversed ? 'receipt.reversed' : 'receipt.title') })),
      reversed
        ? h('div', { class: 'receipt-pay' }, h('span', { class: 'muted', text: t('receipt.reversed_lead') }), h('span', { class: 'receipt-amount', id: 'receipt-pay', text: t('receipt.reversed_big') }))
        : h('div', { class: 'receipt-pay' }, h('span', { class: 'muted', text: t('quote.pay') }), h('span', { class: 'receipt-amount', id: 'receipt-pay', text: money(r.paid_fen) })),
      h('dl', { class: 'receipt-lines' },
        h('dt', { text: t('quote.talent') }), h('dd', { id: 'receipt-talent', text: (r.talent && r.talent.masked_name) || (q.talent && q.talent.masked_name) || '—' }),
        h('dt', { text: t('quote.offer') }), h('dd', { text: (r.offer && r.offer.name) || '' }),
        h('dt', { text: t('quote.bill') }), h('dd', { text: money(r.bill_fen) }),
        h('dt', { text: t('quote.discount') }), h('dd', { text: `-${money(r.discount_fen)}` }),
        h('dt', { text: t('quote.subsidy') }), h('dd', { text: money(r.subsidy_fen) }),
        h('dt', { text: t('receipt.id') }), h('dd', { class: 'mono', id: 'receipt-id', text: String(r.id) }),
        h('dt', { text: t('receipt.at') }), h('dd', { text: dateTime(r.created_at) })),
      h('div', { class: 'row' }, h('button', { class: 'btn btn-primary btn-lg', id: 'receipt-next', text: t('receipt.next'), onclick: reset }), reverseBtn)));
    document.getElementById('receipt-next').focus();
  }

  async function toggleCamera() {
    if (camBox.childElementCount) {
      stopCamera();
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
    } catch {
      mount(msg, alertBox('error', t('scan.camera_denied')));
      return;
    }
    const video = h('video', { class: 'camera-video', autoplay: true, playsinline: true, muted: true });
    video.srcObject = stream;
    mount(camBox, video, h('button', { type: 'button', class: 'btn btn-ghost btn-sm', text: t('scan.camera_stop'), onclick: () => stopCamera() }));
    const detector = new window.BarcodeDetector({ formats: ['qr_code'] });
    let running = true;
    stopCamera = () => {
      running = false;
      stream.getTracks().forEach((tr) => tr.stop());
      camBox.replaceChildren();
      stopCamera = () => {};
    };
    const tick = async () => {
      if (!running) return;
      try {
        const found = await detector.detect(video);
        if (found.length) {
          code.value = found[0].rawValue;
          stopCamera();
          if (parseYuan(bill.value) === null) bill.focus();
          else form.requestSubmit();
          return;
        }
      } catch {
        // The video is not ready yet; try the next frame.
      }
      setTimeout(tick, 250);
    };
    tick();
  }

  reset();
  return () => stopCamera();
}

async function reverse(r, button, done) {
  const answer = await askText({ title: t('reverse.title'), lead: t('reverse.lead') });
  if (!answer) return;
  await busy(button, async () => {
    try {
      await post(`/redemptions/${encodeURIComponent(r.id)}/reverse`, { reason: answer.text });
      toast(t('reverse.done'));
      button.hidden = true;
      done();
    } catch (e) {
      toast(e);
    }
  });
}

function today(body) {
  mount(body, loading());
  const load = async () => {
    try {
      const res = await list(`/redemptions?from=${shanghaiDate()}&per_page=200`);
      const live = res.items.filter((r) => r.status !== 'reversed');
      const sum = (f) => live.reduce((s, r) => s + (Number(r[f]) || 0), 0);
      mount(body,
        h('div', { class: 'stats stats-4' },
          stat(t('count'), String(live.length)),
          stat(t('today.bill'), money(sum('bill_fen'))),
          stat(t('today.discount'), money(sum('discount_fen'))),
          stat(t('today.subsidy'), money(sum('subsidy_fen')), 'stat-accent')),
        res.items.length ? section(null, table([
          { label: t('receipt.at'), cell: (r) => timeOnly(r.created_at) },
          { label: t('quote.talent'), cell: (r) => (r.talent && r.talent.masked_name) || '' },
          { label: t('quote.offer'), cell: (r) => (r.offer && r.offer.name) || '' },
          { label: t('quote.bill'), class: 'num', cell: (r) => money(r.bill_fen) },
          { label: t('quote.discount'), class: 'num', cell: (r) => money(r.discount_fen) },
          { label: t('quote.subsidy'), class: 'num', cell: (r) => money(r.subsidy_fen) },
          { label: t('status'), cell: (r) => chip(r.disputed && r.status === 'active' ? 'disputed' : r.status) },
          { label: t('actions'), cell: (r) => {
            if (r.status === 'reversed') return '';
            const b = h('button', { class: 'btn btn-ghost btn-sm', text: t('reverse') });
            b.addEventListener('click', () => reverse(r, b, load));
            return b;
          } },
        ], res.items)) : emptyState(res));
    } catch (e) {
      mount(body, errorBox(e));
    }
  };
  load();
}

function offers(body, me) {
  const listBox = pagedList('/offers', (items, reload) => table([
    { label: t('offers.title'), cell: (o) => h('div', {}, h('strong', { text: o.title }), h('div', { class: 'muted small', text: describeOffer(o) })) },
    { label: t('offers.tiers'), cell: (o) => (o.tiers || []).join(' ') },
    { label: t('offers.subsidy'), class: 'num', cell: (o) => (o.subsidy_bp !== undefined ? percent(o.subsidy_bp) : '') },
    { label: t('status'), cell: (o) => chip(o.status) },
    { label: t('actions'), cell: (o) => {
      const action = o.status === 'active' ? 'pause' : o.status === 'paused' ? 'resume' : null;
      if (!action) return '';
      const b = h('button', { class: 'btn btn-ghost btn-sm', text: t(`offers.${action}`) });
      b.addEventListener('click', () => busy(b, async () => {
        try {
          await post(`/offers/${encodeURIComponent(o.id)}/${action}`);
          reload();
        } catch (e) {
          toast(e);
        }
      }));
      return b;
    } },
  ], items));
  mount(body, offerForm(me, () => listBox.reload()), section(t('counter.tab.offers'), listBox));
}

function offerForm(me, onCreated) {
  const title = h('input', { class: 'input', name: 'title', required: true });
  const kind = h('select', { class: 'input select', name: 'kind' },
    h('option', { value: 'percent', text: t('offers.kind.percent') }),
    h('option', { value: 'fixed', text: t('offers.kind.fixed') }));
  const pct = h('input', { class: 'input', name: 'percent', inputmode: 'decimal', placeholder: '10' });
  const amount = h('input', { class: 'input', name: 'amount', inputmode: 'decimal', placeholder: '20.00' });
  const minSpend = h('input', { class: 'input', name: 'min_spend', inputmode: 'decimal', value: '0' });
  const maxDisc = h('input', { class: 'input', name: 'max_discount', inputmode: 'decimal' });
  const daily = h('input', { class: 'input', name: 'daily', inputmode: 'numeric' });
  const monthly = h('input', { class: 'input', name: 'monthly', inputmode: 'numeric' });
  const subsidy = h('input', { class: 'input', name: 'subsidy', inputmode: 'decimal', value: '50' });
  const tiers = TIERS.map((tier) => h('input', { type: 'checkbox', name: 'tier', value: tier, checked: true }));
  const pctField = field(t('offers.percent'), pct);
  const amtField = field(t('offers.amount'), amount);
  const sync = () => { pctField.hidden = kind.value !== 'percent'; amtField.hidden = kind.value !== 'fixed'; };
  kind.addEventListener('change', sync);
  sync();
  const msg = h('div', { class: 'form-msg' });
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', text: t('submit') });
  const form = h('form', { class: 'form-grid', novalidate: true },
    field(t('offers.title'), title), field(t('offers.kind'), kind), pctField, amtField,
    field(t('offers.min_spend'), minSpend), field(t('offers.max_discount'), maxDisc),
    field(t('offers.daily'), daily), field(t('offers.monthly'), monthly), field(t('offers.subsidy'), subsidy),
    h('fieldset', { class: 'field field-wide' }, h('legend', { class: 'field-label', text: t('offers.tiers') }),
      h('div', { class: 'row' }, tiers.map((c) => h('label', { class: 'check' }, c, t(`tier.${c.value}`))))),
    h('div', { class: 'field-wide' }, msg, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, async () => {
      const optInt = (el) => (el.value.trim() ? Number.parseInt(el.value, 10) : undefined);
      const body = {
        title: title.value.trim(),
        kind: kind.value,
        min_spend_fen: parseYuan(minSpend.value || '0'),
        tiers: tiers.filter((c) => c.checked).map((c) => c.value),
        subsidy_bp: parsePercentBp(subsidy.value),
        per_card_daily: optInt(daily),
        per_card_monthly: optInt(monthly),
      };
      if (kind.value === 'percent') body.percent_bp = parsePercentBp(pct.value);
      else body.amount_fen = parseYuan(amount.value);
      if (maxDisc.value.trim()) body.max_discount_fen = parseYuan(maxDisc.value);
      try {
        await post(`/merchants/${encodeURIComponent(me.merchant_id)}/offers`, body);
        mount(msg, alertBox('ok', t('offers.created')));
        form.reset();
        sync();
        onCreated();
      } catch (err) {
        mount(msg, errorBox(err));
      }
    });
  });
  return h('details', { class: 'panel collapsible' }, h('summary', { class: 'panel-title', text: t('offers.new') }), form);
}

function cashiers(body, me) {
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
  async function loadList() {
    mount(listBox, loading());
    try {
      const items = await get(`/merchants/${encodeURIComponent(me.merchant_id)}/cashiers`);
      mount(listBox, items.length ? table([
        { label: t('cashiers.username'), cell: (u) => h('strong', { text: u.username }) },
        { label: t('t.phone'), cell: (u) => h('span', { class: 'mono', text: u.phone_masked || '' }) },
        { label: t('users.active'), cell: (u) => (u.active ? t('yes') : t('no')) },
        { label: t('users.created_at'), cell: (u) => dateTime(u.created_at) },
      ], items) : emptyState({ items }));
    } catch (err) {
      mount(listBox, errorBox(err));
    }
  }
  mount(body, section(t('cashiers.new'), form), section(t('cashiers.list'), listBox));
  loadList();
}

function settlements(body) {
  mount(body, section(t('counter.tab.settlements'), pagedList('/settlements', (items, reload) => table([
    { label: t('settle.period'), cell: (s) => s.period },
    { label: t('settle.lines'), class: 'num', cell: (s) => String(s.line_count ?? '') },
    { label: t('settle.bill'), class: 'num', cell: (s) => money(s.bill_fen) },
    { label: t('settle.discount'), class: 'num', cell: (s) => money(s.discount_fen) },
    { label: t('settle.subsidy'), class: 'num', cell: (s) => money(s.subsidy_fen) },
    { label: t('status'), cell: (s) => chip(s.status) },
    { label: t('actions'), cell: (s) => settlementActions(s, 'merchant', reload) },
  ], items))));
}
