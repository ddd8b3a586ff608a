// The counter face for merchant owners and cashiers: scan → quote → confirm → receipt,
// today's redemptions with reversal; owners also manage offers, cashiers and settlements.

import { h, mount, money, parseYuan, parsePercentBp, percent, dateTime, timeOnly, shanghaiDate, uuid, groupDigits } from './util.js';
import { t, has } from './i18n.js';
import { get, post, list, api, describe, ApiError } from './api.js';
import { errorBox, alertBox, clearFieldErrors, emptyState, chip, loading, tabs, toast, askText, stat, busy, field, section, table, pagedList, revealActiveTab } from './ui.js';
import { describeOffer } from './talent.js';
import { settlementActions } from './official.js';
import { heldView, heldBadge } from './anomalies.js';
import { showActivationFor } from './activation.js';

const TIERS = ['A', 'B', 'C', 'D', 'E'];

const del = (path) => api('DELETE', path);

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
  return scan(body, ctx.me);
}

// ---- The printed card (DESIGN §11): card number at the counter, PIN from the holder ----

/** Card numbers are 12 digits, the last a Damm check digit (src/cards/card_no.rs). */
const DAMM = [
  [0, 3, 1, 7, 5, 9, 8, 6, 4, 2], [7, 0, 9, 2, 1, 5, 4, 8, 6, 3], [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
  [1, 7, 5, 0, 9, 8, 3, 4, 2, 6], [6, 1, 2, 3, 0, 4, 5, 9, 7, 8], [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
  [5, 8, 6, 9, 7, 2, 0, 1, 3, 4], [8, 9, 4, 5, 3, 6, 2, 0, 1, 7], [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
  [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];
const PIN_LEN = 6;

/** The 12 digits of a card number as typed or scanned (spaces and dashes allowed), or null. */
export function cardDigits(text) {
  const v = String(text ?? '').replace(/[０-９]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0)).replace(/[\s\u3000-]/g, '');
  return /^\d{12}$/.test(v) ? v : null;
}

/** Whether the card number's check digit is right (a typo is caught before the server). */
export function cardNoValid(digits) {
  return [...digits].reduce((i, d) => DAMM[i][Number(d)], 0) === 0;
}

// What the scan screen was doing when the language was switched (the face is drawn
// again): the printed-card step and its card number and bill — never a typed PIN.
let resumeCard = null;
const RESUME_MS = 5 * 60 * 1000;

/** The refusal of a scanned code, localised, big enough to read across the counter. */
function refusal(err) {
  return h('div', { class: 'refusal', id: 'scan-refusal', dataset: { code: err.code || '' } }, errorBox(err));
}

/** Why an offer does not apply: our words for the code, else the server's detail. */
function reasonText(reason, detail) {
  if (!reason) return detail || '';
  return has(`err.${reason}`) ? t(`err.${reason}`) : detail || reason;
}

/**
 * A PIN refusal in the page's words. `pin_locked` is one code for two locks; the
 * server's (English) detail says which, and until when for the 15-minute one.
 */
function pinRefusal(err) {
  if (!(err instanceof ApiError) || err.code !== 'pin_locked') return errorBox(err);
  const until = /until (\d{1,2}:\d{2})/.exec(err.detail || '');
  const title = until ? t('pin.locked_until', { time: until[1] }) : t('pin.blocked');
  return alertBox('error', title, t(until ? 'hint.pin_locked' : 'pin.blocked_hint'));
}

/** Says `text` right under `input` and marks it invalid, until it is typed into again. */
function noteField(input, text) {
  const holder = input.closest('.field') || input.parentElement;
  for (const old of holder.querySelectorAll('.field-error')) old.remove();
  const note = h('span', { class: 'field-error', id: `${input.id}-error`, role: 'alert', text });
  holder.append(note);
  input.setAttribute('aria-invalid', 'true');
  input.setAttribute('aria-describedby', note.id);
  input.addEventListener('input', () => {
    note.remove();
    input.removeAttribute('aria-invalid');
    input.removeAttribute('aria-describedby');
  }, { once: true });
  input.focus();
}

function scan(body, me) {
  // 'code': the rolling code on the talent's phone; 'card': the printed card and its PIN.
  let mode = 'code';
  const code = h('input', { class: 'input input-xl', id: 'scan-code', name: 'code', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', placeholder: t('scan.code_ph'), enterkeyhint: 'next' });
  const cardNo = h('input', { class: 'input input-xl mono', id: 'scan-card', name: 'card_no', inputmode: 'numeric', autocomplete: 'off', spellcheck: 'false', maxlength: '20', placeholder: t('pin.card_ph'), enterkeyhint: 'next' });
  const bill = h('input', { class: 'input input-xl', id: 'scan-bill', name: 'bill', inputmode: 'decimal', autocomplete: 'off', placeholder: t('scan.bill_ph'), enterkeyhint: 'go' });
  const quoteBtn = h('button', { class: 'btn btn-primary btn-lg', id: 'scan-quote', type: 'submit', text: t('scan.quote') });
  const msg = h('div', { class: 'scan-msg', id: 'scan-msg' });
  const result = h('div', { class: 'scan-result', id: 'scan-result' });
  const camBox = h('div', { class: 'camera' });
  let stopCamera = () => {};
  let closePad = () => {};
  // Drops the PIN a quote on screen still holds, when the screen moves on without it.
  let forgetQuote = () => {};

  const modeBtn = (id, label) => h('button', { type: 'button', class: 'mode-btn', id: `scan-mode-${id}`, dataset: { mode: id }, 'aria-pressed': 'false', text: label, onclick: () => setMode(id, true) });
  const modes = h('div', { class: 'mode-switch', role: 'group', 'aria-label': t('pin.mode_label') },
    modeBtn('code', t('pin.mode_code')), modeBtn('card', t('pin.mode_card')));
  const codeField = field(t('scan.code'), code);
  const cardField = field(t('pin.card_no'), cardNo, t('pin.card_hint'));
  const cardNote = h('p', { class: 'pin-handover-note', id: 'scan-card-note', text: t('pin.cashier_note') });

  const form = h('form', { class: 'scan-form panel', id: 'scan-form', novalidate: true },
    modes,
    codeField, cardField,
    field(t('scan.bill'), bill),
    cardNote,
    h('div', { class: 'row' }, quoteBtn,
      'BarcodeDetector' in window ? h('button', { type: 'button', class: 'btn btn-ghost', id: 'scan-camera', text: t('scan.camera'), onclick: () => toggleCamera() }) : null),
    camBox, msg);
  const layout = h('div', { class: 'scan-layout' }, form, result);
  const padBox = h('div', { class: 'pin-stage-slot' });
  mount(body, layout, padBox);

  function setMode(m, focus) {
    mode = m;
    for (const b of modes.querySelectorAll('.mode-btn')) {
      const on = b.dataset.mode === m;
      b.classList.toggle('is-active', on);
      b.setAttribute('aria-pressed', on ? 'true' : 'false');
    }
    codeField.hidden = m !== 'code';
    cardField.hidden = m !== 'card';
    cardNote.hidden = m !== 'card';
    quoteBtn.textContent = t(m === 'card' ? 'pin.next' : 'scan.quote');
    form.dataset.mode = m;
    const idle = result.querySelector('.scan-idle');
    if (idle) idle.textContent = t(m === 'card' ? 'pin.ready' : 'scan.ready');
    if (focus) (m === 'card' ? cardNo : code).focus();
  }

  function reset() {
    stopCamera();
    closePad();
    forgetQuote();
    forgetQuote = () => {};
    resumeCard = null;
    code.value = '';
    cardNo.value = '';
    bill.value = '';
    msg.replaceChildren();
    clearFieldErrors(form);
    mount(result, h('div', { class: 'scan-idle muted', text: t(mode === 'card' ? 'pin.ready' : 'scan.ready') }));
    (mode === 'card' ? cardNo : code).focus();
  }

  /** What was scanned or typed into either field: a printed card's number goes to the card path. */
  function routeScan(raw) {
    const digits = cardDigits(raw);
    if (digits && mode === 'code') {
      // The printed card's QR holds only its 12-digit number (a code has 20 digits).
      code.value = '';
      cardNo.value = groupDigits(digits);
      setMode('card', false);
      mount(msg, alertBox('ok', t('pin.switched_to_card')));
    } else if (!digits && mode === 'card' && /^(TC1:)?\d{20}$/i.test(String(raw).replace(/\s/g, ''))) {
      cardNo.value = '';
      code.value = String(raw).trim();
      setMode('code', false);
    }
  }

  // A handheld scanner types the code and presses Enter: with the bill already typed the
  // quote follows at once, otherwise the cursor moves on to the bill.
  for (const input of [code, cardNo]) {
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        routeScan(input.value);
        const typed = (mode === 'card' ? cardNo : code).value.trim();
        if (typed && parseYuan(bill.value) === null) bill.focus();
        else form.requestSubmit();
      }
    });
  }
  // A scan that lands in the bill field (the cashier typed the bill first and left the
  // cursor there) is a code, not an amount: move it where it belongs.
  bill.addEventListener('keydown', (e) => {
    const typed = bill.value.replace(/\s/g, '');
    if (e.key === 'Enter' && parseYuan(typed) === null && typed.length >= 12) {
      e.preventDefault();
      bill.value = '';
      if (cardDigits(typed)) {
        cardNo.value = groupDigits(cardDigits(typed));
        setMode('card', false);
      } else {
        code.value = typed;
        setMode('code', false);
      }
      mount(msg, alertBox('warn', t(mode === 'card' ? 'pin.moved_to_card' : 'scan.moved_to_code')));
      bill.focus();
    }
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (mode === 'code') routeScan(code.value);
    if (mode === 'card') askPin();
    else quote();
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
        showQuote({ code: c }, fen, q);
      } catch (err) {
        mount(result, refusal(err), again());
      }
    });
  }

  /** The cashier's half of the printed-card path: a card number and a bill, then the pad. */
  function askPin() {
    msg.replaceChildren();
    clearFieldErrors(form);
    const digits = cardDigits(cardNo.value);
    const fen = parseYuan(bill.value);
    if (!digits) return noteField(cardNo, t(cardNo.value.trim() ? 'pin.card_invalid' : 'pin.card_missing'));
    if (!cardNoValid(digits)) return noteField(cardNo, t('pin.card_check'));
    if (fen === null) {
      mount(msg, alertBox('error', t('scan.bill_invalid')));
      bill.focus();
      return undefined;
    }
    stopCamera();
    return openPad(digits, fen);
  }

  /**
   * The talent's half: the device is handed over and the holder types the PIN on a large
   * pad. The PIN lives only in this closure (and the quote's) until the redemption is
   * made or abandoned, and is cleared then; it is never put in a field the page's
   * language switch or the browser's autofill could keep.
   *
   * The digits are NOT shuffled. The people who use this pad are mostly elderly: a fixed
   * telephone layout (1-2-3 on top, 0 below 8, as on every phone and bank POS pad in
   * China) is what their fingers know, and a shuffled pad makes them read every key and
   * mistype — and each wrong PIN counts towards the 5 that lock the card. What
   * shuffling guards against (smudges and an onlooker's reading of hand positions on a
   * shared screen) is small here: the digits are never shown, the cashier is asked to
   * look away, and the server's limits (5 wrong → 15 min, 10 a day → new PIN, 3 PIN
   * sales a day, guesses counted against the shop) bound what a stolen PIN is worth.
   */
  function openPad(digits, fen, resumed) {
    let pin = '';
    resumeCard = { userId: me && me.id, digits, fen, at: resumed ? resumeCard.at : Date.now() };
    const dots = Array.from({ length: PIN_LEN }, () => h('span', { class: 'pin-dot', 'aria-hidden': 'true' }));
    const count = h('span', { class: 'sr-only', id: 'pin-count', 'aria-live': 'polite' });
    const padMsg = h('div', { class: 'pin-msg', id: 'pin-msg' });
    const ok = h('button', { type: 'button', class: 'btn btn-primary pin-ok', id: 'pin-ok', text: t('pin.ok'), disabled: true });
    const key = (label, onclick, cls, extra = {}) => h('button', { type: 'button', class: ['pin-key', cls], onclick, ...extra }, label);
    const pad = h('div', { class: 'pin-pad', id: 'pin-pad', role: 'group', 'aria-label': t('pin.pad_label') },
      ['1', '2', '3', '4', '5', '6', '7', '8', '9'].map((d) => key(d, () => press(d), null, { dataset: { digit: d } })),
      key(t('pin.clear'), () => { pin = ''; draw(); }, 'pin-key-fn', { id: 'pin-clear' }),
      key('0', () => press('0'), null, { dataset: { digit: '0' } }),
      key([h('span', { 'aria-hidden': 'true', text: '⌫ ' }), t('pin.back')], () => { pin = pin.slice(0, -1); draw(); }, 'pin-key-fn', { id: 'pin-back' }));
    const cancel = h('button', { type: 'button', class: 'btn btn-ghost btn-lg', id: 'pin-cancel', text: t('pin.cancel') });
    const title = h('h2', { class: 'pin-title', id: 'pin-title', tabindex: '-1', text: t('pin.title') });
    // Two columns on a counter tablet (what to check beside the pad, all on one screen);
    // one on a phone.
    const stage = h('section', { class: 'pin-stage panel', id: 'pin-stage', 'aria-labelledby': 'pin-title' },
      h('div', { class: 'pin-info' },
        title,
        h('dl', { class: 'pin-facts' },
          h('dt', { text: t('pin.card_no') }), h('dd', { class: 'mono', id: 'pin-card', text: groupDigits(digits) }),
          h('dt', { text: t('quote.bill') }), h('dd', { id: 'pin-bill', text: money(fen) })),
        h('div', { class: 'pin-dots', id: 'pin-dots' }, dots),
        count,
        padMsg,
        h('p', { class: 'pin-privacy', text: t('pin.privacy') })),
      h('div', { class: 'pin-entry' },
        pad,
        h('div', { class: 'pin-actions' }, cancel, ok)));
    // The talent holds the device now: the counter's tabs (today's sales) step aside.
    const nav = body.closest('.face') && body.closest('.face').querySelector('.tabs');

    function draw() {
      dots.forEach((d, i) => d.classList.toggle('is-filled', i < pin.length));
      count.textContent = t('pin.count', { n: pin.length, of: PIN_LEN });
      ok.disabled = pin.length !== PIN_LEN;
    }
    function press(d) {
      if (pin.length >= PIN_LEN) return;
      pin += d;
      padMsg.replaceChildren();
      draw();
      // Deliberately no submit on the sixth digit: a slip can still be taken back before
      // it counts as one of the five wrong PINs.
      if (pin.length === PIN_LEN) ok.focus();
    }
    const onKey = (e) => {
      if (e.target instanceof HTMLElement && e.target.closest('dialog, input, textarea, select')) return;
      if (/^[0-9]$/.test(e.key)) press(e.key);
      else if (e.key === 'Backspace') { pin = pin.slice(0, -1); draw(); } else if (e.key === 'Escape') back();
      else return;
      e.preventDefault();
    };
    document.addEventListener('keydown', onKey);

    function close() {
      pin = '';
      document.removeEventListener('keydown', onKey);
      padBox.replaceChildren();
      layout.hidden = false;
      if (nav) nav.hidden = false;
      closePad = () => {};
    }
    function back() {
      close();
      resumeCard = null;
      cardNo.focus();
    }
    closePad = close;
    cancel.addEventListener('click', back);
    // `busy` enables the button again when done: whether it may be pressed is the PIN's to say.
    ok.addEventListener('click', () => busy(ok, async () => {
      if (pin.length !== PIN_LEN) return;
      const cred = { card_no: digits, pin };
      try {
        const q = await post('/redemptions/quote', { ...cred, bill_fen: fen });
        close();
        resumeCard = null;
        showQuote(cred, fen, q);
      } catch (err) {
        pin = '';
        draw();
        if (err instanceof ApiError && (err.code === 'pin_wrong' || (err.code === 'validation' && err.field === 'pin'))) {
          mount(padMsg, alertBox('error', t('err.pin_wrong'), t('hint.pin_wrong')));
          return;
        }
        if (err instanceof ApiError && err.code === 'network') {
          mount(padMsg, errorBox(err));
          return;
        }
        // Everything else is the cashier's to deal with: back to their screen.
        close();
        resumeCard = null;
        if (err instanceof ApiError && (err.code === 'card_unknown' || (err.code === 'validation' && err.field === 'card_no'))) {
          const { title, detail } = describe(err);
          mount(result, h('div', { class: 'scan-idle muted', text: t('pin.ready') }));
          noteField(cardNo, detail ? `${title} ${detail}` : title);
          return;
        }
        mount(result, h('div', { class: 'refusal', id: 'scan-refusal', dataset: { code: err.code || '' } }, pinRefusal(err)), again());
      }
    }).then(draw));

    layout.hidden = true;
    if (nav) nav.hidden = true;
    mount(padBox, stage);
    draw();
    // The heading takes the focus (read out by a screen reader), not a key: a ring
    // round "1" looks to an elderly eye like a key already pressed.
    title.focus();
    stage.scrollIntoView({ block: 'start' });
  }

  function again() {
    return h('button', { class: 'btn btn-ghost btn-lg', id: 'scan-again', text: t('quote.again'), onclick: reset });
  }

  /** `cred` is what identifies the card: `{code}`, or `{card_no, pin}` for a printed card. */
  function showQuote(cred, fen, q) {
    const offersList = q.offers || [];
    let chosenId = q.chosen ? q.chosen.offer_id : null;
    // One key per confirmed quote: a retry after a lost answer reuses it, a new choice does not.
    let key = uuid();
    const byPin = 'pin' in cred;
    // The PIN goes once the sale is made or given up (a new scan, cancel, next customer).
    const forget = () => { if (byPin) cred.pin = ''; };
    forgetQuote = forget;
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
      if (byPin && !cred.pin) return;
      try {
        const r = await post('/redemptions', { ...cred, bill_fen: fen, offer_id: chosenId }, { 'Idempotency-Key': key });
        forget();
        showReceipt(q, r);
      } catch (err) {
        if (err instanceof ApiError && err.code === 'network') {
          // Same key (and the same PIN) on retry: the server answers the first result,
          // never a second redemption.
          mount(msg, errorBox(err));
          return;
        }
        forget();
        mount(result, h('div', { class: 'refusal', id: 'scan-refusal', dataset: { code: err.code || '' } }, byPin ? pinRefusal(err) : errorBox(err)), again());
      }
    }));
    const cancelQuote = () => { forget(); reset(); };

    mount(result, h('div', { class: 'quote panel', id: 'quote', dataset: { byPin: byPin ? 'true' : 'false' } },
      h('div', { class: 'quote-talent' },
        h('span', { class: 'muted small', text: t('quote.talent') }),
        h('span', { class: 'quote-name', id: 'quote-name', text: (q.talent && q.talent.masked_name) || '—' }),
        q.tier ? h('span', { class: 'chip', id: 'quote-tier', text: t(`tier.${q.tier}`) }) : null,
        byPin ? h('span', { class: 'chip chip-pin', id: 'quote-by-pin', text: t('pin.by_pin') }) : null,
        q.family_card ? h('span', { class: 'chip chip-family', id: 'quote-family', text: t('family.kind') }) : null),
      byPin ? h('p', { class: 'pin-handback', text: t('pin.hand_back') }) : null,
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
      h('div', { class: 'row' }, confirm, h('button', { class: 'btn btn-ghost btn-lg', id: 'quote-cancel', text: t('cancel'), onclick: cancelQuote }))));
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
        r.by_pin ? [h('dt', { text: t('pin.receipt_by') }), h('dd', { id: 'receipt-by-pin', text: t('pin.by_pin') })] : null,
        r.family_card ? [h('dt', { text: t('family.receipt') }), h('dd', { id: 'receipt-family', text: t('family.kind') })] : null,
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
          (mode === 'card' ? cardNo : code).value = found[0].rawValue;
          routeScan(found[0].rawValue);
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

  // Drawn again after a language switch halfway through a printed-card sale: back to the
  // pad for the same card and bill (the PIN is typed again).
  const resume = resumeCard && me && resumeCard.userId === me.id && Date.now() - resumeCard.at < RESUME_MS ? resumeCard : null;
  setMode(resume ? 'card' : 'code', false);
  reset();
  if (resume) {
    cardNo.value = groupDigits(resume.digits);
    bill.value = (resume.fen / 100).toFixed(2);
    resumeCard = resume;
    openPad(resume.digits, resume.fen, true);
  }
  return () => {
    stopCamera();
    closePad();
  };
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

// ---- Offers: the owner's list with reasons, revise, pause/resume, end ----

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

function offers(body, me) {
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

/**
 * A modal with `content` and a confirm button; `work` runs on confirm and returns an
 * error to show (the dialog stays open) or nothing (it closes). Resolves true if done.
 */
function dialogAsk({ id, title, lead, content, confirmText, danger, wide, work }) {
  return new Promise((resolve) => {
    const msg = h('div', { class: 'dialog-msg', 'aria-live': 'assertive' });
    const ok = h('button', { type: 'submit', class: ['btn', danger ? 'btn-danger' : 'btn-primary'], text: confirmText || t('confirm'), dataset: { action: 'dialog-confirm' } });
    const dlg = h('dialog', { class: ['dialog', wide && 'dialog-wide'], id, 'aria-labelledby': `${id}-title` });
    let done = false;
    const form = h('form', { class: 'dialog-body', novalidate: true },
      h('h3', { id: `${id}-title`, text: title }),
      lead ? h('p', { class: 'dialog-lead', text: lead }) : null,
      content || null,
      msg,
      h('div', { class: 'row-end' },
        h('button', { type: 'button', class: 'btn btn-ghost', text: t('cancel'), onclick: () => dlg.close() }),
        ok));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(ok, async () => {
        msg.replaceChildren();
        const problem = await work();
        if (problem) {
          mount(msg, problem);
          return;
        }
        done = true;
        dlg.close();
      });
    });
    dlg.append(form);
    dlg.addEventListener('close', () => {
      dlg.remove();
      resolve(done);
    });
    document.body.append(dlg);
    dlg.showModal();
    const first = form.querySelector('input, textarea, select');
    if (first) first.focus();
  });
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

// ---- Cashiers: add, list, remove ----

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

function settlements(body) {
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
