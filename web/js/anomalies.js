// Anomaly control (DESIGN §8): the officials' 预警 queue and the merchant owner's view of
// what is held and why. A flag is shown as a card, most severe first, with the rule and
// its evidence in plain words: an official must see at a glance what holds money.

import { h, mount, money, percent, dateTime, shanghaiDate } from './util.js';
import { t, has } from './i18n.js';
import { get, post } from './api.js';
import { errorBox, alertBox, loading, busy, field, section, table, pagedList, toast, chip, revealActiveTab } from './ui.js';
import { w } from './access.js';
import { traceLink } from './trace.js';
import { refreshTodo } from './todo.js';

export const RULES = ['rapid_repeat', 'cashier_burst', 'min_spend_bunching', 'round_bills', 'peer_outlier',
  'staff_redemption', 'reversal_ratio', 'card_velocity', 'off_hours', 'reissue_churn'];
const SEVERITIES = ['high', 'medium', 'low'];
const STATUSES = ['open', 'cleared', 'confirmed'];

/** The month before this one in Shanghai, like the settlements view. */
function lastMonth() {
  const [y, m] = shanghaiDate().split('-').map(Number);
  return m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, '0')}`;
}

/** `t` with an English singular (`key.one`) when `n` is 1; Chinese has no plural. */
function tn(key, vars) {
  return Number(vars.n) === 1 && has(`${key}.one`) ? t(`${key}.one`, vars) : t(key, vars);
}

/** "a of b" as a whole percent ("8%"), or null without a base. */
function share(a, b) {
  const n = Number(b);
  if (!n) return null;
  return `${Math.round((Number(a) / n) * 100)}%`;
}

/** The rule in the reader's language. */
export function ruleName(rule) {
  const key = `anom.rule.${rule}`;
  return t(key) === key ? rule : t(key);
}

/** The numbers behind a hit as one sentence in the reader's language. */
export function evidenceText(f) {
  const e = f.evidence || {};
  const n = e.redemptions;
  switch (f.rule) {
    case 'rapid_repeat':
      return t('anom.ev.rapid_repeat', { n, m: e.window_minutes });
    case 'cashier_burst':
      return t('anom.ev.cashier_burst', { n, cards: e.most_cards_in_window, m: e.window_minutes });
    case 'min_spend_bunching': {
      const peers = share(e.peers_bunched, e.peers_of);
      return t('anom.ev.min_spend_bunching', {
        a: e.bunched, b: e.of, band: percent(e.band_bp),
        peers: peers === null ? t('anom.ev.no_peers') : t('anom.ev.peers', { p: peers }),
      });
    }
    case 'round_bills':
      return t('anom.ev.round_bills', { a: e.round, b: e.of, unit: money(e.unit_fen) });
    case 'peer_outlier':
      return t('anom.ev.peer_outlier', {
        s: money(e.subsidy_fen), med: money(e.peer_median_fen), peers: e.peers,
        cat: t(`catlong.${e.category}`), x: e.multiple,
      });
    case 'staff_redemption':
      return tn(`anom.ev.staff_redemption.${e.matches === 'staff_phone' ? 'staff' : 'contact'}`, { n });
    case 'reversal_ratio':
      return t('anom.ev.reversal_ratio', { a: e.reversed, b: e.of, p: share(e.reversed, e.of) || '—' });
    case 'card_velocity':
      return t('anom.ev.card_velocity', { n, m: e.window_minutes, fast: e.fastest_minutes });
    case 'off_hours':
      return tn('anom.ev.off_hours', { n, from: String(e.from_hour).padStart(2, '0'), to: String(e.to_hour).padStart(2, '0') });
    case 'reissue_churn':
      return tn('anom.ev.reissue_churn', { r: e.reissues, months: e.months, n });
    default:
      return Object.entries(e).map(([k, v]) => `${k}: ${v}`).join(', ');
  }
}

function severityBadge(f) {
  const held = f.severity === 'high';
  return h('span', { class: ['sev', `sev-${f.severity}`], dataset: { severity: f.severity } },
    held ? h('span', { class: 'sev-mark', 'aria-hidden': 'true', text: '!' }) : null,
    t(`anom.sev.${f.severity}`),
    held && f.status === 'open' ? h('span', { class: 'sev-held', text: t('anom.holds') }) : null);
}

function statusChip(status) {
  return h('span', { class: ['chip', `chip-flag-${status}`], dataset: { status }, text: t(`anom.st.${status}`) });
}

// The flagged redemptions of each flag, fetched once per page view (the held sum and
// the expanded list share them).
const fetched = new Map();
function flagRedemptions(f) {
  const key = `${f.id}:${f.updated_at}`;
  if (!fetched.has(key)) {
    fetched.set(key, Promise.all((f.redemption_ids || []).map((id) => get(`/redemptions/${encodeURIComponent(id)}`).catch(() => ({ id })))));
  }
  return fetched.get(key);
}

/** The flagged redemptions (officials see the full card number, an owner a masked one;
 * officials open each one's trace). */
async function redemptionRows(f, viewer) {
  const rows = await flagRedemptions(f);
  return table([
    { label: t('anom.r.at'), cell: (r) => dateTime(r.created_at) },
    { label: t('card.no'), cell: (r) => h('span', { class: 'mono', text: r.card_no || '' }) },
    { label: t('quote.talent'), cell: (r) => (r.talent && r.talent.masked_name) || '' },
    { label: t('trace.cashier'), cell: (r) => r.cashier_name || '' },
    { label: t('quote.bill'), class: 'num', cell: (r) => money(r.bill_fen) },
    { label: t('quote.discount'), class: 'num', cell: (r) => (r.discount_fen === undefined ? '—' : `-${money(r.discount_fen)}`) },
    { label: t('quote.subsidy'), class: 'num', cell: (r) => money(r.subsidy_fen) },
    { label: t('status'), cell: (r) => (r.status ? chip(r.status) : h('span', { class: 'mono', text: `#${r.id}` })) },
    viewer === 'official' ? { label: t('actions'), cell: (r) => traceLink(r.id) } : null,
  ].filter(Boolean), rows, { class: 'table-compact', rowData: (r) => ({ redemption: String(r.id) }) });
}

/** A button that shows (and hides) the flag's redemptions; nothing for a flag without any. */
function redemptionsToggle(f, viewer) {
  const ids = f.redemption_ids || [];
  if (!ids.length) return h('p', { class: 'muted small', text: t('anom.no_redemptions') });
  const box = h('div', { class: 'flag-redemptions', hidden: true });
  const label = () => (box.hidden ? tn('anom.show_redemptions', { n: ids.length }) : t('anom.hide_redemptions'));
  const b = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', dataset: { action: 'redemptions' }, 'aria-expanded': 'false', text: label() });
  let loaded = false;
  b.addEventListener('click', () => busy(b, async () => {
    box.hidden = !box.hidden;
    b.setAttribute('aria-expanded', String(!box.hidden));
    b.textContent = label();
    if (!box.hidden && !loaded) {
      mount(box, loading());
      try {
        mount(box, await redemptionRows(f, viewer));
        loaded = true;
      } catch (e) {
        mount(box, errorBox(e));
      }
    }
  }));
  return h('div', {}, b, box);
}

/** The facts of a flag: merchant, card, staff account, when raised, answer and decision. */
function flagFacts(f, { showMerchant }) {
  const rows = [];
  const add = (label, value, cls) => rows.push(h('dt', { text: label }), h('dd', { class: cls, text: value }));
  if (showMerchant) add(t('settle.merchant'), f.merchant ? f.merchant.name : t('anom.no_merchant'));
  if (f.card_no) add(t('card.no'), f.card_no, 'mono');
  if (f.card_holder) add(t('card.holder'), f.card_holder);
  if (f.staff_id !== undefined && f.staff_id !== null) add(t('anom.staff'), f.staff_name || `#${f.staff_id}`, f.staff_name ? '' : 'mono');
  add(t('settle.period'), f.period);
  add(t('anom.raised_at'), dateTime(f.created_at));
  return h('dl', { class: 'flag-facts' }, rows);
}

function responseBlock(f, viewer) {
  if (f.response) {
    return h('div', { class: 'flag-response', dataset: { part: 'response' } },
      h('div', { class: 'field-label', text: viewer === 'owner' ? t('anom.your_response') : t('anom.response') }),
      h('blockquote', { text: f.response }));
  }
  return f.merchant && viewer === 'official' ? h('p', { class: 'muted small', dataset: { part: 'response' }, text: t('anom.no_response') }) : null;
}

function decisionBlock(f) {
  if (f.status === 'open') return null;
  const box = alertBox(f.status === 'confirmed' ? 'error' : 'ok',
    t(`anom.decided.${f.status}`, { at: dateTime(f.resolved_at) }),
    f.note ? t('anom.decision_note', { note: f.note }) : '');
  if (f.resolved_by_name) box.append(h('div', { class: 'alert-detail', text: t('anom.decided_by', { who: f.resolved_by_name }) }));
  return box;
}

/** The administrator's decision form: outcome, a plain warning, a required note. */
function resolveForm(f, onDone) {
  const n = (f.redemption_ids || []).length;
  const name = `outcome-${f.id}`;
  const radios = ['cleared', 'confirmed'].map((o) => h('input', { type: 'radio', name, value: o, checked: o === 'cleared' }));
  const note = h('textarea', { class: 'input', rows: '2', name: 'note', dataset: { part: 'note' } });
  const warn = h('div', { dataset: { part: 'outcome-warning' } });
  const msg = h('div', { class: 'form-msg' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', dataset: { action: 'resolve' }, text: t('anom.resolve') });
  const outcome = () => radios.find((r) => r.checked).value;
  const drawWarn = () => mount(warn, outcome() === 'confirmed'
    ? alertBox('error', n ? tn('anom.confirm_warn', { n }) : t('anom.confirm_warn_none'))
    : alertBox('ok', n && f.severity === 'high' ? tn('anom.clear_hint', { n }) : t('anom.clear_hint_plain')));
  radios.forEach((r) => r.addEventListener('change', drawWarn));
  drawWarn();
  const form = h('form', { class: 'flag-resolve', novalidate: true },
    h('fieldset', { class: 'field' }, h('legend', { class: 'field-label', text: t('anom.outcome') }),
      h('div', { class: 'row' }, radios.map((r) => h('label', { class: 'check', dataset: { outcome: r.value } }, r, t(`anom.outcome.${r.value}`))))),
    warn,
    field(t('anom.note'), note),
    msg,
    submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = note.value.trim();
    if (!text) {
      mount(msg, alertBox('error', t('anom.note_required')));
      note.focus();
      return;
    }
    busy(submit, async () => {
      try {
        const res = await post(`/audit/anomalies/${encodeURIComponent(f.id)}/resolve`, { outcome: outcome(), note: text });
        toast(res.reversed ? tn('anom.resolved_reversed', { n: res.reversed }) : t('anom.resolved'));
        onDone();
        refreshTodo();
      } catch (err) {
        mount(msg, errorBox(err));
      }
    });
  });
  return w(form);
}

/** The merchant owner's once-only answer, while the flag is open. */
function respondForm(f, onDone) {
  const note = h('textarea', { class: 'input', rows: '3', name: 'response', dataset: { part: 'response-input' } });
  const msg = h('div', { class: 'form-msg' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', dataset: { action: 'respond' }, text: t('anom.respond') });
  const form = h('form', { class: 'flag-respond', novalidate: true },
    field(t('anom.respond_label'), note, t('anom.respond_hint')), msg, submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = note.value.trim();
    if (!text) {
      mount(msg, alertBox('error', t('anom.respond_required')));
      note.focus();
      return;
    }
    busy(submit, async () => {
      try {
        await post(`/audit/anomalies/${encodeURIComponent(f.id)}/respond`, { note: text });
        toast(t('anom.responded'));
        onDone();
      } catch (err) {
        mount(msg, errorBox(err));
      }
    });
  });
  return form;
}

/** What a high open flag holds: the sales, then the subsidy they add up to once fetched. */
function heldNotice(f, viewer) {
  const n = f.redemption_ids.length;
  const sum = h('div', { class: 'alert-detail held-sum', dataset: { part: 'held-sum' } });
  flagRedemptions(f).then((rows) => {
    if (rows.some((r) => r.subsidy_fen === undefined)) return;
    const fen = rows.filter((r) => r.status !== 'reversed').reduce((a, r) => a + Number(r.subsidy_fen), 0);
    sum.textContent = t('anom.held_sum', { sum: money(fen) });
  });
  const box = alertBox('warn', tn(viewer === 'owner' ? 'anom.owner_held' : 'anom.held', { n }));
  box.append(sum);
  return box;
}

function flagCard(f, viewer, reload) {
  const n = (f.redemption_ids || []).length;
  const holding = f.severity === 'high' && f.status === 'open' && n > 0;
  return h('article', { class: ['flag', `flag-${f.severity}`, `flag-${f.status}`], dataset: { flagId: String(f.id), rule: f.rule, severity: f.severity, status: f.status } },
    h('header', { class: 'flag-head' },
      severityBadge(f),
      h('h3', { class: 'flag-rule', text: ruleName(f.rule) }),
      statusChip(f.status)),
    viewer === 'official' && f.merchant ? h('div', { class: 'flag-merchant', text: f.merchant.name }) : null,
    h('p', { class: 'flag-evidence', dataset: { part: 'evidence' }, text: evidenceText(f) }),
    holding ? heldNotice(f, viewer) : null,
    flagFacts(f, { showMerchant: viewer === 'official' && !f.merchant }),
    responseBlock(f, viewer),
    decisionBlock(f),
    redemptionsToggle(f, viewer),
    viewer === 'official' && f.status === 'open' ? resolveForm(f, reload) : null,
    viewer === 'owner' && f.status === 'open' && !f.response ? respondForm(f, reload) : null);
}

function select(name, values, current, labelOf, allLabel) {
  return h('select', { class: 'input select select-sm', name, id: `anom-${name}` },
    allLabel ? h('option', { value: '', text: allLabel }) : null,
    values.map((v) => h('option', { value: v, text: labelOf(v), selected: v === current })));
}

/** The officials' 预警 tab: filters, a scan for administrators, the queue. */
export function alertsView(body) {
  const period = h('input', { class: 'input select-sm', name: 'period', id: 'anom-period', value: lastMonth(), pattern: '\\d{4}-\\d{2}', inputmode: 'numeric', size: '8' });
  const status = select('status', STATUSES, 'open', (s) => t(`anom.st.${s}`), t('cat.all'));
  const rule = select('rule', RULES, '', ruleName, t('cat.all'));
  const severity = select('severity', SEVERITIES, '', (s) => t(`anom.sev.${s}`), t('cat.all'));
  const box = h('div', { id: 'anom-list' });
  const scanMsg = h('div', { id: 'anom-scan-msg' });
  const scan = w(h('button', { type: 'button', class: 'btn btn-ghost', id: 'anom-scan', text: t('anom.scan') }));

  function path() {
    const q = new URLSearchParams();
    if (/^\d{4}-\d{2}$/.test(period.value.trim())) q.set('period', period.value.trim());
    for (const [k, el] of [['status', status], ['rule', rule], ['severity', severity]]) if (el.value) q.set(k, el.value);
    return `/audit/anomalies?${q}`;
  }
  function draw() {
    const list = pagedList(path(), (items, reload) => h('div', { class: 'flags' }, items.map((f) => flagCard(f, 'official', reload))), 20);
    mount(box, list);
  }
  for (const el of [status, rule, severity]) el.addEventListener('change', draw);
  period.addEventListener('change', draw);
  if (scan) {
    scan.addEventListener('click', () => busy(scan, async () => {
      const p = period.value.trim();
      if (!/^\d{4}-\d{2}$/.test(p)) {
        mount(scanMsg, alertBox('error', t('anom.period_invalid')));
        return;
      }
      try {
        const r = await post('/audit/anomalies/scan', { period: p });
        mount(scanMsg, alertBox('ok', t('anom.scanned', { p: r.period, raised: r.raised, refreshed: r.refreshed })));
        draw();
      } catch (e) {
        mount(scanMsg, errorBox(e));
      }
    }));
  }
  mount(body, h('div', { class: 'page-head' }, h('h1', { text: t('off.tab.alerts') })),
    section(null,
      h('p', { class: 'anom-lead', text: t('anom.lead') }),
      h('div', { class: 'row row-bottom anom-filters' },
        field(t('settle.period'), period), field(t('status'), status), field(t('anom.rule'), rule), field(t('anom.severity'), severity), scan),
      scanMsg),
    box);
  draw();
}

/** The merchant owner's view: what is held and why, open and decided. */
export function heldView(body) {
  const box = pagedList('/audit/anomalies', (items, reload) => h('div', { class: 'flags' }, items.map((f) => flagCard(f, 'owner', reload))), 20);
  mount(body, section(t('anom.owner_title'),
    h('p', { class: 'owner-held-lead', text: t('anom.owner_lead') }),
    h('div', { id: 'held-list' }, box)));
}

/** The number of open high flags (what holds money) on the tab `id` of `nav`; a merchant
 * owner's list holds only those. A convenience: the tab itself shows any error. */
export async function heldBadge(nav, id) {
  const tab = nav.querySelector(`[data-tab='${id}']`);
  if (!tab) return;
  try {
    const page = await get('/audit/anomalies?status=open&severity=high&per_page=1');
    if (page && page.total > 0) {
      tab.append(h('span', { class: 'tab-badge', id: 'held-badge', 'aria-label': t('anom.badge', { n: page.total }), text: String(page.total) }));
      // The tab grew: keep it in view when it is the one shown.
      revealActiveTab(nav);
    }
  } catch {
    // Nothing to add.
  }
}
