// The talent's face (phone): the card with its rolling code, savings, partner directory.

import { h, mount, money, dateOnly, dateTime, groupDigits, shanghaiDate } from './util.js';
import { t, has } from './i18n.js';
import { get, post, list, ApiError, isReachable, fetchFile } from './api.js';
import { errorBox, alertBox, emptyState, chip, loading, tabs, toast, askText, stat, busy, field } from './ui.js';
import * as store from './codestore.js';
import { familyMark, familyPanel } from './family.js';

const TABS = ['card', 'savings', 'partners'];
const ICONS = { card: '▣', savings: '¥', partners: '⌂' };
const CATEGORIES = ['clothing', 'food', 'housing', 'transport', 'medical', 'education', 'leisure', 'other'];
// Refill the codes when less than this much time is covered, so ≥ 10 minutes stay on hand.
const REFILL_BELOW_MS = 9 * 60 * 1000;
const REFILL_EVERY_MS = 60 * 1000;
const POLL_REDEMPTIONS_MS = 8 * 1000;

export function render(root, ctx) {
  const tab = TABS.includes(ctx.tab) ? ctx.tab : 'card';
  const body = h('div', { class: 'talent-body' });
  mount(root, h('div', { class: 'face face-talent' }, body,
    tabs(TABS.map((id) => ({ id, label: t(`talent.tab.${id}`), icon: ICONS[id] })), tab, ctx.go, 'tabbar')));
  if (tab === 'savings') return savings(body);
  if (tab === 'partners') return partners(body);
  return cardView(body, ctx.me);
}

function tierLabel(tier) {
  return tier ? t(`tier.${tier}`) : '—';
}

function cardFace(card, me) {
  return h('div', { class: ['talent-card', `tier-${card.tier || 'X'}`, card.status !== 'active' && 'is-inactive'], id: 'talent-card' },
    h('div', { class: 'tc-top' },
      h('div', {}, h('div', { class: 'tc-brand', text: '遂州英才卡' }), h('div', { class: 'tc-brand-en', text: 'SUIZHOU TALENT CARD' })),
      h('div', { class: 'tc-tier', text: card.tier || '' })),
    h('div', { class: 'tc-name', text: me.display_name || me.username }),
    h('div', { class: 'tc-tier-label', text: tierLabel(card.tier) }),
    familyMark(card),
    h('div', { class: 'tc-no' }, h('span', { class: 'tc-label', text: t('card.no') }), h('span', { class: 'tc-mono', text: groupDigits(card.card_no) })),
    h('div', { class: 'tc-bottom' },
      h('div', {}, h('span', { class: 'tc-label', text: t('card.valid_until') }), h('span', { class: 'tc-mono', text: dateOnly(card.valid_until) })),
      chip(card.status)));
}

/** Days left on a card (its last day counted), from the local date. */
function daysLeft(card) {
  const last = Date.parse(`${card.valid_until}T00:00:00+08:00`);
  const today = Date.parse(`${shanghaiDate()}T00:00:00+08:00`);
  return Math.round((last - today) / 86400000) + 1;
}

/** From 60 days before a card runs out, the talent is told, with how to renew. */
function expiryNotice(card) {
  if (!card || card.status !== 'active' || !card.valid_until) return null;
  const left = daysLeft(card);
  if (left > 60 || left < 1) return null;
  return h('div', { class: 'alert alert-warn expiry-notice', id: 'expiry-notice', role: 'status' },
    h('strong', { class: 'alert-title', text: t('card.expires_in', { n: left }) }),
    h('div', { class: 'alert-detail', text: t('card.renew_hint') }));
}

/** The card's outline with a plain word on how to get one. */
function noCard() {
  return h('div', { class: 'talent-card is-placeholder', id: 'talent-card' },
    h('div', { class: 'tc-top' },
      h('div', {}, h('div', { class: 'tc-brand', text: '遂州英才卡' }), h('div', { class: 'tc-brand-en', text: 'SUIZHOU TALENT CARD' }))),
    h('p', { class: 'tc-none', text: t('card.none') }));
}

function cardView(body, me) {
  let codes = [];
  const used = new Set();
  let shown = null;
  let card = null;
  let lastRedemption;
  let stopped = false;
  const timers = [];

  const codeBox = h('div', { class: 'code-panel', id: 'code-panel' }, loading());
  const cardBox = h('div', { class: 'card-slot' }, loading());
  // Below the code: at the counter the code comes first.
  const noticeBox = h('div', { class: 'card-notice' });
  const printedBox = h('div', { class: 'printed-slot' });
  const familyBox = h('div', { class: 'family-slot' });
  mount(body, cardBox, codeBox, noticeBox, printedBox, familyBox);

  function current(now) {
    return codes.find((c) => Date.parse(c.not_before) <= now && now < Date.parse(c.not_after) && !used.has(c.code));
  }

  function coveredUntil() {
    return codes.filter((c) => !used.has(c.code)).reduce((m, c) => Math.max(m, Date.parse(c.not_after)), 0);
  }

  function drawCode() {
    const now = Date.now();
    const c = current(now);
    if (card && card.status !== 'active') {
      // No code for a card that cannot be used: say why, and who can help.
      shown = null;
      const key = `code.blocked_${card.replaced_by ? 'replaced' : card.status}`;
      mount(codeBox, h('div', { class: 'code-empty', id: 'card-blocked' },
        h('h2', { class: 'code-title', text: has(key) ? t(key) : t('code.blocked_other') }),
        card.status_reason ? h('p', {}, h('strong', { text: `${t('code.blocked_reason')}: ` }), document.createTextNode(card.status_reason)) : null,
        h('p', { class: 'small', text: t('code.blocked_help') })));
      return;
    }
    if (!c) {
      shown = null;
      mount(codeBox, h('div', { class: 'code-empty' },
        h('p', { text: navigator.onLine && isReachable() ? t('code.none') : t('code.none_offline') })));
      return;
    }
    const left = Math.max(0, Math.ceil((Date.parse(c.not_after) - now) / 1000));
    const span = Math.max(1, (Date.parse(c.not_after) - Date.parse(c.not_before)) / 1000);
    if (shown !== c.code) {
      shown = c.code;
      mount(codeBox,
        h('h2', { class: 'code-title', text: t('code.title') }),
        h('div', { class: 'qr-frame' },
          // The server's SVG is shown as an image: nothing inside it can run.
          h('img', { class: 'qr', id: 'qr', alt: 'QR', src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(c.qr_svg || '')}` })),
        h('div', { class: 'code-numeric', id: 'code-numeric', text: groupDigits(c.numeric || '') }),
        h('div', { class: 'countdown' }, h('div', { class: 'countdown-bar' }, h('div', { class: 'countdown-fill', id: 'countdown-fill' }))),
        h('div', { class: 'code-meta' },
          h('span', { class: 'countdown-text', id: 'countdown-text' }),
          h('span', { class: 'offline-left', id: 'offline-left' })),
        h('p', { class: 'code-hint muted small', text: t('code.hint') }),
        h('button', { class: 'btn btn-ghost btn-sm', text: t('code.next'), onclick: () => { used.add(c.code); drawCode(); } }));
    }
    codeBox.querySelector('#countdown-text').textContent = t('code.refresh_in', { s: left });
    // CSSOM width (not an inline style attribute), which the CSP allows.
    codeBox.querySelector('#countdown-fill').style.width = `${Math.min(100, (left / span) * 100)}%`;
    const mins = Math.floor((coveredUntil() - now) / 60000);
    codeBox.querySelector('#offline-left').textContent = mins > 0 ? t('code.offline_left', { m: mins }) : '';
  }

  async function refill(force) {
    if (!navigator.onLine) return;
    if (!force && coveredUntil() - Date.now() > REFILL_BELOW_MS) return;
    try {
      const res = await get('/me/codes');
      const items = Array.isArray(res) ? res : (res && res.items) || [];
      codes = items.slice().sort((a, b) => Date.parse(a.not_before) - Date.parse(b.not_before));
      store.save({ me: { id: me.id, username: me.username, role: me.role, display_name: me.display_name }, card, codes });
      drawCode();
    } catch (e) {
      if (!(e instanceof ApiError && (e.code === 'network' || e.missing))) toast(e);
    }
  }

  async function pollRedemptions() {
    if (!navigator.onLine || document.hidden) return;
    try {
      const res = await list('/me/redemptions?per_page=1');
      const top = res.items[0] ? res.items[0].id : null;
      if (lastRedemption !== undefined && top !== lastRedemption && shown) {
        // The code on screen was just redeemed: move on to the next single-use code.
        used.add(shown);
        drawCode();
        toast(t('code.used_next'));
      }
      lastRedemption = top;
    } catch {
      // Polling is best effort; the next tick retries.
    }
  }

  (async () => {
    const snap = await store.load();
    if (snap && snap.me && snap.me.id === me.id) {
      codes = snap.codes || [];
      card = snap.card || null;
    }
    if (!me.offline) {
      try {
        card = await get('/me/card');
      } catch (e) {
        if (e instanceof ApiError && e.missing) card = null;
        else if (!(e instanceof ApiError && e.code === 'network')) mount(cardBox, errorBox(e));
      }
    }
    if (stopped) return;
    mount(cardBox, card ? cardFace(card, me) : noCard());
    mount(noticeBox, expiryNotice(card));
    if (!me.offline) mount(printedBox, printedCard(card));
    if (!me.offline && card) familyPanel(familyBox);
    if (!card || card.status === 'active') {
      await refill(true);
    }
    // Without a card there is nothing to show at the counter: no empty code panel.
    codeBox.hidden = !card && codes.length === 0;
    drawCode();
    pollRedemptions();
  })();

  timers.push(setInterval(() => { if (!stopped) drawCode(); }, 1000));
  timers.push(setInterval(() => refill(false), REFILL_EVERY_MS));
  timers.push(setInterval(pollRedemptions, POLL_REDEMPTIONS_MS));
  const onOnline = () => refill(true);
  window.addEventListener('online', onOnline);
  return () => {
    stopped = true;
    timers.forEach(clearInterval);
    window.removeEventListener('online', onOnline);
  };
}

// ---- The printed card and its PIN (DESIGN §11) ----

const PIN_LEN = 6;

/**
 * The rules a new PIN must meet, as the server checks them (src/pins/mod.rs), each with
 * whether `pin` meets it. Runs wrap round (890123 is one); the birth date is the
 * server's to check (the page does not know it), so it is only said.
 */
export function pinRules(pin) {
  const six = /^\d{6}$/.test(pin);
  const d = [...pin].map(Number);
  const steps = d.slice(1).map((x, i) => (((x - d[i]) % 10) + 10) % 10);
  return [
    { id: 'six', ok: six },
    { id: 'same', ok: six && !steps.every((x) => x === 0) },
    { id: 'run', ok: six && !steps.every((x) => x === 1) && !steps.every((x) => x === 9) },
    { id: 'repeat', ok: six && pin.slice(0, 2).repeat(3) !== pin && pin.slice(0, 3).repeat(2) !== pin },
    { id: 'birth', ok: null },
  ];
}

/** Below the code: paying without the phone — set the printed card's PIN, print the card. */
function printedCard(card) {
  if (!card || !['active', 'suspended'].includes(card.status)) return null;
  const setBtn = h('button', { type: 'button', class: 'btn btn-primary btn-lg', id: 'pin-open', text: t('mypin.open') });
  const printBtn = h('button', { type: 'button', class: 'btn btn-ghost btn-lg', id: 'print-open', text: t('mypin.print') });
  setBtn.addEventListener('click', () => openPinDialog());
  printBtn.addEventListener('click', () => busy(printBtn, () => openPrint(card)));
  return h('section', { class: 'panel printed-card', id: 'printed-card', 'aria-labelledby': 'printed-title' },
    h('h2', { class: 'panel-title', id: 'printed-title', text: t('mypin.title') }),
    h('p', { class: 'printed-lead', text: t('mypin.lead') }),
    h('div', { class: 'row' }, setBtn, printBtn));
}

function pinModal(id, ...content) {
  const dlg = h('dialog', { class: 'dialog', id, 'aria-labelledby': `${id}-title` }, ...content);
  document.body.append(dlg);
  dlg.addEventListener('close', () => dlg.remove());
  return dlg;
}

/** "Set / change the printed card's PIN": the PIN twice and the account's password. */
function openPinDialog() {
  const pinInput = (id, name, autocomplete) => h('input', {
    class: 'input input-xl mono pin-input', id, name, type: 'password', inputmode: 'numeric', pattern: '[0-9]*',
    maxlength: String(PIN_LEN), autocomplete, required: true,
  });
  const pin = pinInput('mypin-new', 'pin', 'off');
  const again = pinInput('mypin-again', 'pin_again', 'off');
  const password = h('input', { class: 'input', id: 'mypin-password', name: 'current_password', type: 'password', autocomplete: 'current-password', required: true });
  const rules = h('ul', { class: 'pin-rules', id: 'mypin-rules', 'aria-live': 'polite' });
  const msg = h('div', { class: 'dialog-msg', id: 'mypin-msg' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'mypin-submit', text: t('mypin.submit') });
  const close = h('button', { type: 'button', class: 'btn btn-ghost', id: 'mypin-close', text: t('cancel') });
  const form = h('form', { class: 'dialog-body', id: 'mypin-form', novalidate: true },
    h('h3', { id: 'mypin-title', text: t('mypin.title_set') }),
    h('p', { class: 'muted', text: t('mypin.dialog_lead') }),
    field(t('mypin.pin'), pin),
    rules,
    field(t('mypin.again'), again),
    field(t('account.current'), password, t('mypin.password_hint')),
    msg,
    h('div', { class: 'row-end' }, close, submit));
  const dlg = pinModal('mypin', form);
  close.addEventListener('click', () => dlg.close());

  // The rules are ticked off as the PIN is typed, so nobody learns them from a refusal.
  const drawRules = () => {
    const digits = pin.value.replace(/\D/g, '').slice(0, PIN_LEN);
    if (digits !== pin.value) pin.value = digits;
    const list = pinRules(digits);
    const match = again.value ? again.value === digits : null;
    mount(rules,
      list.map((r) => h('li', { class: ['pin-rule', r.ok === true && 'is-ok', r.ok === false && digits && 'is-bad'], dataset: { rule: r.id } },
        h('span', { class: 'pin-rule-mark', 'aria-hidden': 'true', text: r.ok === null ? '•' : r.ok ? '✓' : digits ? '✕' : '•' }),
        h('span', { text: t(`mypin.rule.${r.id}`) }))),
      h('li', { class: ['pin-rule', match === true && 'is-ok', match === false && 'is-bad'], dataset: { rule: 'match' } },
        h('span', { class: 'pin-rule-mark', 'aria-hidden': 'true', text: match === null ? '•' : match ? '✓' : '✕' }),
        h('span', { text: t('mypin.rule.match') })));
  };
  for (const input of [pin, again]) {
    input.addEventListener('input', () => {
      input.value = input.value.replace(/\D/g, '').slice(0, PIN_LEN);
      drawRules();
    });
  }
  drawRules();

  const refuse = (input, text) => {
    for (const el of [pin, again, password]) el.removeAttribute('aria-invalid');
    mount(msg, alertBox('error', text));
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    msg.replaceChildren();
    const bad = pinRules(pin.value).find((r) => r.ok === false);
    if (bad) return refuse(pin, t(`mypin.rule.${bad.id}`));
    if (pin.value !== again.value) return refuse(again, t('mypin.mismatch'));
    if (!password.value) return refuse(password, t('account.current_missing'));
    return busy(submit, async () => {
      try {
        await post('/me/pin', { pin: pin.value, current_password: password.value });
      } catch (err) {
        if (err instanceof ApiError && err.code === 'unauthorized') refuse(password, t('account.current_wrong'));
        else if (err instanceof ApiError && err.code === 'validation' && err.field === 'pin') {
          refuse(pin, t(/birth/i.test(err.detail) ? 'mypin.refused_birth' : 'mypin.refused'));
        } else mount(msg, errorBox(err));
        return;
      }
      pin.value = '';
      again.value = '';
      dlg.close();
      toast(t('mypin.done'));
    });
  });
  dlg.showModal();
  pin.focus();
}

/**
 * The card to print, fetched with the session and shown here (as a data: image, which the
 * page's policy allows); "open" shows the SVG alone in a new tab, at card size, to print.
 */
async function openPrint(card) {
  let svg;
  try {
    ({ blob: svg } = await fetchFile(`/cards/${encodeURIComponent(card.card_no)}/print`));
  } catch (e) {
    toast(e);
    return;
  }
  const text = await svg.text();
  const url = URL.createObjectURL(new Blob([text], { type: 'image/svg+xml' }));
  const open = h('a', { class: 'btn btn-primary', id: 'print-tab', href: url, target: '_blank', rel: 'noopener', text: t('mypin.print_open') });
  const save = h('a', { class: 'btn btn-ghost', id: 'print-save', href: url, download: `talent-card-${card.card_no}.svg`, text: t('mypin.print_save') });
  const close = h('button', { type: 'button', class: 'btn btn-ghost', id: 'print-close', text: t('close') });
  const dlg = pinModal('print',
    h('div', { class: 'dialog-body' },
      h('h3', { id: 'print-title', text: t('mypin.print_title') }),
      h('img', { class: 'print-preview', id: 'print-preview', alt: t('mypin.print_alt', { no: groupDigits(card.card_no) }), src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(text)}` }),
      h('p', { class: 'small', text: t('mypin.print_lead') }),
      h('div', { class: 'row-end' }, close, save, open)));
  close.addEventListener('click', () => dlg.close());
  dlg.addEventListener('close', () => setTimeout(() => URL.revokeObjectURL(url), 60_000));
  dlg.showModal();
  open.focus();
}

function savings(body) {
  mount(body, loading());
  (async () => {
    try {
      const [res, disputes] = await Promise.all([list('/me/redemptions?per_page=100'), list('/disputes?per_page=200')]);
      // A redemption may be disputed once: its dispute's status replaces the button.
      const disputeOf = new Map(disputes.items.map((d) => [d.redemption_id, d]));
      // Reversed redemptions saved nothing; the total is over the newest 100 shown here.
      const counted = res.items.filter((r) => r.status !== 'reversed');
      const saved = counted.reduce((s, r) => s + (Number(r.discount_fen) || 0), 0);
      mount(body,
        h('div', { class: 'stats stats-2' },
          stat(t('savings.total'), money(saved), 'stat-accent'),
          stat(t('savings.count'), String(counted.length))),
        res.items.length ? h('ul', { class: 'list' }, res.items.map((r) => savingRow(r, disputeOf.get(r.id), () => savings(body)))) : emptyState(res));
    } catch (e) {
      mount(body, errorBox(e));
    }
  })();
}

function savingRow(r, dispute, reload) {
  const status = dispute && dispute.status;
  const disputable = !r.disputed && !dispute && r.status !== 'reversed'
    && Date.now() - Date.parse(r.created_at) < 7 * 24 * 3600 * 1000;
  const btn = h('button', { class: 'btn btn-ghost btn-sm', text: t('savings.dispute') });
  btn.addEventListener('click', async () => {
    const answer = await askText({ title: t('savings.dispute_title'), lead: t('savings.dispute_lead') });
    if (!answer) return;
    await busy(btn, async () => {
      try {
        await post(`/redemptions/${encodeURIComponent(r.id)}/dispute`, { reason: answer.text });
        toast(t('savings.dispute_done'));
        reload();
      } catch (e) {
        toast(e);
      }
    });
  });
  return h('li', { class: 'list-item' },
    h('div', { class: 'li-main' },
      h('div', { class: 'li-title', text: (r.merchant && r.merchant.name) || '' }),
      h('div', { class: 'li-sub muted small', text: [r.offer && r.offer.name, dateTime(r.created_at)].filter(Boolean).join(' · ') }),
      // A use of a family card, in the talent's history: whose card it was.
      r.family_card ? h('div', { class: 'li-sub small family-use', text: t('family.used_by', { name: (r.talent && r.talent.masked_name) || '' }) }) : null),
    h('div', { class: 'li-side' },
      // A reversed sale saved nothing: its amount is struck through, not counted.
      h('div', { class: ['li-amount', r.status === 'reversed' && 'is-reversed'], text: `-${money(r.discount_fen).replace('-', '')}` }),
      h('div', { class: 'muted small', text: `${t('savings.bill')} ${money(r.bill_fen)}` }),
      r.disputed ? chip('disputed') : status && status !== 'open' ? chip(status) : r.status === 'reversed' ? chip('reversed') : disputable ? btn : null),
    // A decided dispute says what was decided and why, in the official's words.
    status && status !== 'open' ? h('div', { class: 'li-note small', dataset: { dispute: status } },
      h('strong', { text: `${t(status === 'upheld' ? 'savings.dispute_upheld' : 'savings.dispute_dismissed')}` }),
      dispute.resolution_note ? document.createTextNode(` ${t('savings.dispute_note')}: ${dispute.resolution_note}`) : null) : null);
}

export function describeOffer(o) {
  const parts = [];
  if (o.kind === 'percent' && o.percent_bp) parts.push(t('offer.percent', { p: (o.percent_bp / 100).toString() }));
  if (o.kind === 'fixed' && o.amount_fen) parts.push(t('offer.fixed', { a: money(o.amount_fen) }));
  if (o.min_spend_fen) parts.push(t('offer.min', { a: money(o.min_spend_fen) }));
  if (o.max_discount_fen) parts.push(t('offer.max', { a: money(o.max_discount_fen) }));
  return parts.join(' · ');
}

function partners(body) {
  let category = '';
  let district = '';
  const districts = new Set();
  const chips = h('div', { class: 'chips', role: 'group' });
  const select = h('select', { class: 'input select', id: 'district', 'aria-label': t('field.district') });
  const results = h('div', { class: 'merchant-list' });
  mount(body, h('div', { class: 'filters' }, chips, select), results);

  function drawFilters() {
    mount(chips, ['', ...CATEGORIES].map((c) => h('button', {
      class: ['chip-btn', c === category && 'is-active'],
      text: t(c ? `cat.${c}` : 'cat.all'),
      onclick: () => { category = c; drawFilters(); load(); },
    })));
    mount(select, h('option', { value: '', text: t('partners.all_districts') }),
      [...districts].sort().map((d) => h('option', { value: d, text: d, selected: d === district })));
  }
  select.addEventListener('change', () => { district = select.value; load(); });

  // The directory shows what each offer gives this card's tier, so the tier is asked once.
  let tier;
  async function cardTier() {
    if (tier !== undefined) return tier;
    const snap = await store.load();
    tier = (snap && snap.card && snap.card.tier) || null;
    try {
      tier = (await get('/me/card')).tier || tier;
    } catch {
      // No card (yet) or offline: the whole directory, every tier's offers.
    }
    return tier;
  }

  async function load() {
    mount(results, loading());
    const q = new URLSearchParams({ per_page: '100' });
    if (category) q.set('category', category);
    if (district) q.set('district', district);
    const myTier = await cardTier();
    if (myTier) q.set('tier', myTier);
    try {
      const res = await list(`/merchants?${q}`);
      for (const m of res.items) if (m.district) districts.add(m.district);
      drawFilters();
      mount(results, res.items.length ? res.items.map((m) => merchantCard(m, myTier)) : emptyState(res));
    } catch (e) {
      mount(results, errorBox(e));
    }
  }
  drawFilters();
  load();
}

function merchantCard(m, tier) {
  const offers = (m.offers || []).filter((o) => !tier || !Array.isArray(o.tiers) || o.tiers.includes(tier));
  return h('article', { class: 'merchant' },
    h('div', { class: `merchant-cat cat-${CATEGORIES.includes(m.category) ? m.category : 'other'}`, text: t(`cat.${CATEGORIES.includes(m.category) ? m.category : 'other'}`) }),
    h('div', { class: 'merchant-main' },
      h('h3', { class: 'merchant-name', text: m.name }),
      h('div', { class: 'muted small', text: [m.district, m.address].filter(Boolean).join(' · ') }),
      offers.length ? h('ul', { class: 'offer-list', 'aria-label': t('partners.offers_for_you') }, offers.map((o) => h('li', {},
        h('strong', { text: o.title }), ' ', h('span', { class: 'muted small', text: describeOffer(o) })))) : null));
}
