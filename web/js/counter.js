// The counter face for merchant owners and cashiers: scan → quote → confirm → receipt,
// today's redemptions with reversal; owners also manage offers, cashiers and settlements.

import { h, mount, money, parseYuan, dateTime, timeOnly, shanghaiDate, uuid, groupDigits } from './util.js';
import { t, has } from './i18n.js';
import { post, list, describe, ApiError } from './api.js';
import { errorBox, alertBox, clearFieldErrors, emptyState, chip, loading, tabs, toast, askText, stat, busy, field, section, table, revealActiveTab } from './ui.js';
import { heldView, heldBadge } from './anomalies.js';
import { offers } from './owner_offers.js';
import { cashiers, settlements } from './owner_desk.js';

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
/** How long a redemption whose answer was lost is sent again (a failover fits in it). */
const REDEEM_RETRY_MS = 30 * 1000;

/** The request may have been made or not: no answer, or the service briefly away. */
function answerLost(err) {
  return err instanceof ApiError && (err.code === 'network' || [502, 503, 504].includes(err.status));
}

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
    // The answer to a redemption can be lost on the way (the network, a database
    // failover answered 503): the same request goes again with the same key for up to
    // half a minute, and the server answers the first result or makes it once.
    async function redeemSurely() {
      const until = Date.now() + REDEEM_RETRY_MS;
      for (let attempt = 1; ; attempt += 1) {
        try {
          return await post('/redemptions', { ...cred, bill_fen: fen, offer_id: chosenId }, { 'Idempotency-Key': key });
        } catch (err) {
          if (!answerLost(err) || Date.now() >= until) throw err;
          mount(msg, alertBox('warn', t('quote.retrying'), t('quote.retrying_detail')));
          await new Promise((resolve) => setTimeout(resolve, Math.min(500 * attempt, 3000)));
        }
      }
    }
    confirm.addEventListener('click', () => busy(confirm, async () => {
      if (byPin && !cred.pin) return;
      try {
        const r = await redeemSurely();
        mount(msg);
        forget();
        showReceipt(q, r);
      } catch (err) {
        if (answerLost(err)) {
          // Still no answer: the quote stays, and 确认 sends the same key (and the same
          // PIN) again — never a second redemption.
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
