// The official's and auditor's face (desktop first): budget, approvals, talents and
// cards, settlements through four-eyes approval, disputes, audit chain, reports, accounts.
// Auditors see the same views with every write control left out (not merely disabled).

import { h, mount, money, parseYuan, percent, dateTime, shanghaiYear, shanghaiDate } from './util.js';
import { t } from './i18n.js';
import { get, post, put, list, ApiError } from './api.js';
import { errorBox, alertBox, chip, loading, tabs, toast, stat, busy, field, section, table, pagedList, revealActiveTab } from './ui.js';
import { budgetGauge } from './charts.js';
import { describeOffer } from './talent.js';
import { setWritable, w } from './access.js';
import { proposalsView, proposedNotice, openBudgetProposals, effect } from './proposals.js';
import { showActivationFor } from './activation.js';
import { actionButton, download, codeButton } from './actions.js';
import { talentsView } from './talents_office.js';
import { usersView } from './officials.js';
import { importView } from './import.js';
import { alertsView } from './anomalies.js';
import { searchBar, searchView } from './search.js';
import { ledgerView } from './ledger.js';
import { traceView, traceLink } from './trace.js';
import { audit } from './audit_office.js';
import { reports } from './reports.js';
import { todoBadges, refreshTodo } from './todo.js';

const CATEGORIES = ['clothing', 'food', 'housing', 'transport', 'medical', 'education', 'leisure', 'other'];

let canWrite = false;

/** Where the address points: a tab (`#/ledger?card_no=…`), a trace (`#/trace/12`) or
 * search results (`#/search?q=…`). Read from the raw hash so a query keeps its `&`. */
function route(ids) {
  const raw = location.hash.replace(/^#\/?/, '');
  const cut = raw.indexOf('?');
  const path = cut < 0 ? raw : raw.slice(0, cut);
  const params = new URLSearchParams(cut < 0 ? '' : raw.slice(cut + 1));
  const [head, arg] = path.split('/');
  if (head === 'trace' && /^\d+$/.test(arg || '')) return { tab: 'ledger', trace: arg, params };
  if (head === 'search') return { tab: '', search: params.get('q') || '', params };
  return { tab: ids.includes(head) ? head : 'overview', params };
}

export function render(root, ctx) {
  canWrite = ctx.me.role === 'admin';
  setWritable(canWrite);
  const ids = ['overview', 'proposals', 'approvals', 'talents', 'ledger', 'settlements', 'alerts', 'disputes', 'audit', 'reports'];
  // Importing writes talents: administrators only, next to the talents it adds to.
  if (canWrite) ids.splice(ids.indexOf('talents') + 1, 0, 'import');
  if (canWrite) ids.push('users');
  const where = route(ids);
  const body = h('div', { class: 'face-body' });
  const label = (id) => (id === 'proposals' && !canWrite ? t('off.tab.proposals_ro') : t(`off.tab.${id}`));
  const nav = tabs(ids.map((id) => ({ id, label: label(id) })), where.tab, ctx.go, 'sidenav');
  mount(root, h('div', { class: 'face face-official' },
    h('aside', { class: 'sidebar' },
      canWrite ? null : h('div', { class: 'readonly-badge', id: 'readonly-badge', text: t('readonly') }),
      nav),
    h('div', { class: 'face-main' }, searchBar(where.search, ctx.go), body)));
  revealActiveTab(nav);
  todoBadges(nav);
  const badge = () => refreshTodo();
  if (where.trace) {
    traceView(body, where.trace);
    return null;
  }
  if (where.search !== undefined) {
    searchView(body, where.search);
    return null;
  }
  const views = {
    overview: (b) => overview(b, badge), proposals: (b) => proposalsView(b, ctx, badge),
    ledger: (b) => ledgerView(b, where.params, ctx.go),
    approvals, talents: (b) => talentsView(b, canWrite), settlements, alerts: alertsView, disputes, audit, reports, users: usersView, import: importView,
  };
  views[where.tab](body, ctx);
  return null;
}

// ---- Budget ----

function overview(body, onProposed) {
  const thisYear = shanghaiYear();
  let year = thisYear;
  const yearSel = h('select', { class: 'input select select-sm', id: 'budget-year' });
  const content = h('div', { class: 'budget' });
  for (const y of [thisYear - 1, thisYear, thisYear + 1]) yearSel.append(h('option', { value: String(y), text: String(y), selected: y === year }));
  yearSel.addEventListener('change', () => { year = Number(yearSel.value); load(); });
  mount(body, h('div', { class: 'page-head' }, h('h1', { text: t('off.tab.overview') }), field(t('budget.year'), yearSel)), content);

  async function load() {
    mount(content, loading());
    let b = null;
    try {
      b = await get(`/budgets/${year}`);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) {
        mount(content, errorBox(e));
        return;
      }
    }
    const labels = {
      title: t('budget.total'), paid: t('budget.paid'), settled: t('budget.settled'),
      reserved: t('budget.reserved'), remaining: t('budget.remaining'),
    };
    const parts = [];
    if (b) {
      const used = b.total_fen ? (b.total_fen - b.remaining_fen) / b.total_fen : 0;
      parts.push(section(null,
        h('div', { class: 'stats stats-3' },
          stat(t('budget.total'), money(b.total_fen)),
          stat(t('budget.remaining'), money(b.remaining_fen), 'stat-accent'),
          stat(t('budget.used'), `${(used * 100).toFixed(1)}%`)),
        budgetGauge(b, labels)));
      if (b.categories && b.categories.length) {
        parts.push(section(t('budget.categories'), table([
          { label: t('budget.category'), cell: (c) => t(`catlong.${c.category}`) },
          { label: t('budget.total'), class: 'num', cell: (c) => money(c.total_fen) },
          { label: t('budget.reserved'), class: 'num', cell: (c) => money(c.reserved_fen) },
          { label: t('budget.settled'), class: 'num', cell: (c) => money(c.settled_fen) },
          { label: t('budget.paid'), class: 'num', cell: (c) => money(c.paid_fen) },
          { label: t('budget.remaining'), class: 'num', cell: (c) => money(c.remaining_fen) },
        ], b.categories)));
      }
    } else {
      parts.push(alertBox('warn', t('budget.none', { y: year })));
    }
    const pending = h('div', { id: 'budget-pending' });
    parts.push(pending);
    if (canWrite) parts.push(budgetForm(year, b, () => { showPending(pending, year); onProposed(); }));
    mount(content, parts);
    showPending(pending, year);
  }
  load();
}

/** A budget change waiting for a second administrator: the gauge shows what is in force. */
async function showPending(box, year) {
  try {
    const open = await openBudgetProposals(year);
    mount(box, open.map((p) => {
      const { title, lines } = effect(p);
      return alertBox('warn', t('budget.pending'), [title, ...lines].join(t('prop.sep')));
    }));
  } catch {
    mount(box);
  }
}

function budgetForm(year, b, onProposed) {
  const yuan = (fen) => (fen === null || fen === undefined ? '' : (fen / 100).toFixed(2));
  const total = h('input', { class: 'input', id: 'budget-total', name: 'total', inputmode: 'decimal', value: b ? yuan(b.total_fen) : '' });
  const cap = h('input', { class: 'input', id: 'budget-cap', name: 'cap', inputmode: 'decimal', value: b ? yuan(b.merchant_monthly_cap_fen) : '' });
  const env = Object.fromEntries(CATEGORIES.map((c) => {
    const cur = b && (b.categories || []).find((e) => e.category === c);
    return [c, h('input', { class: 'input', name: `cat-${c}`, inputmode: 'decimal', value: cur ? yuan(cur.total_fen) : '' })];
  }));
  const msg = h('div', { class: 'form-msg' });
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', id: 'budget-save', text: t('budget.propose') });
  const form = h('form', { class: 'form-grid', id: 'budget-form', novalidate: true },
    field(t('budget.set_total'), total), field(t('budget.cap'), cap),
    h('fieldset', { class: 'field field-wide' }, h('legend', { class: 'field-label', text: t('budget.categories') }),
      h('div', { class: 'form-grid form-grid-4' }, CATEGORIES.map((c) => field(t(`catlong.${c}`), env[c])))),
    h('div', { class: 'field-wide' }, msg, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const totalFen = parseYuan(total.value);
    if (totalFen === null) {
      mount(msg, alertBox('error', t('scan.bill_invalid')));
      return;
    }
    const payload = { total_fen: totalFen };
    if (cap.value.trim()) payload.merchant_monthly_cap_fen = parseYuan(cap.value);
    const categories = {};
    for (const c of CATEGORIES) if (env[c].value.trim()) categories[c] = parseYuan(env[c].value);
    if (Object.values(categories).some((v) => v === null) || payload.merchant_monthly_cap_fen === null) {
      mount(msg, alertBox('error', t('scan.bill_invalid')));
      return;
    }
    payload.categories = categories;
    busy(submit, async () => {
      try {
        const res = await put(`/budgets/${year}`, payload);
        mount(msg, proposedNotice(res.proposal, t('budget.unchanged')));
        onProposed();
      } catch (err) {
        mount(msg, errorBox(err));
      }
    });
  });
  return w(h('details', { class: 'panel collapsible', open: !b }, h('summary', { class: 'panel-title', text: t('budget.set') }), form));
}

// ---- Approvals ----

function approvals(body) {
  const merchants = pagedList('/merchants?status=pending', (items, reload) => table([
    { label: t('m.name'), cell: (m) => h('strong', { class: 'merchant-name-cell', text: m.name }) },
    { label: t('m.uscc'), cell: (m) => h('span', { class: 'mono', text: m.uscc || '' }) },
    { label: t('m.category'), cell: (m) => t(`catlong.${m.category}`) },
    { label: t('m.district'), cell: (m) => [m.district, m.address].filter(Boolean).join(' · ') },
    { label: t('m.contact'), cell: (m) => [m.contact_name, m.contact_phone].filter(Boolean).join(' ') },
    { label: t('actions'), cell: (m) => h('div', { class: 'row-tight' },
      actionButton(t('appr.approve'), `/merchants/${m.id}/approve`, {
        cls: 'btn-primary',
        onDone: (res) => {
          reload();
          everyone.reload();
          // Applied without a password: the owner's code, shown once to hand over.
          if (res && res.owner_activation) showActivationFor(res.owner_activation, res.owner_activation.username, m.name);
        },
      }),
      actionButton(t('appr.reject'), `/merchants/${m.id}/reject`, { ask: t('reason'), askTitle: t('appr.reject_title'), onDone: () => { reload(); everyone.reload(); } })) },
  ], items));
  const offers = pagedList('/offers?status=pending', (items, reload) => table([
    { label: t('offers.title'), cell: (o) => h('div', {}, h('strong', { text: o.title }), h('div', { class: 'muted small', text: describeOffer(o) })) },
    { label: t('m.name'), cell: (o) => h('strong', { class: 'merchant-name-cell', text: o.merchant_name || '' }) },
    { label: t('offers.tiers'), cell: (o) => (o.tiers || []).join(' ') },
    { label: t('offers.subsidy'), class: 'num', cell: (o) => (o.subsidy_bp !== undefined ? percent(o.subsidy_bp) : '') },
    { label: t('actions'), cell: (o) => h('div', { class: 'row-tight' },
      actionButton(t('appr.approve'), `/offers/${o.id}/approve`, { cls: 'btn-primary', onDone: reload }),
      actionButton(t('appr.reject'), `/offers/${o.id}/reject`, { ask: t('reason'), askTitle: t('appr.reject_title'), onDone: reload })) },
  ], items));
  // Every merchant with its status, so an official can suspend one that left the
  // alliance (or broke its terms) and resume it later.
  const everyone = pagedList('/merchants?status=all', (items, reload) => table([
    { label: t('m.name'), cell: (m) => h('strong', { class: 'merchant-name-cell', text: m.name }) },
    { label: t('m.category'), cell: (m) => t(`catlong.${m.category}`) },
    { label: t('m.district'), cell: (m) => m.district },
    { label: t('status'), cell: (m) => chip(m.status) },
    { label: t('actions'), cell: (m) => h('div', { class: 'row-tight' },
      m.status === 'active' ? actionButton(t('cards.suspend'), `/merchants/${m.id}/suspend`, { ask: t('reason'), cls: 'btn-danger-ghost', onDone: reload }) : null,
      m.status === 'suspended' ? actionButton(t('cards.resume'), `/merchants/${m.id}/resume`, { onDone: reload }) : null,
      m.status === 'active' ? codeButton(`/merchants/${encodeURIComponent(m.id)}/activation`, m.name) : null) },
  ], items, { rowData: (m) => ({ merchant: String(m.id) }) }));
  mount(body, h('div', { class: 'page-head' }, h('h1', { text: t('off.tab.approvals') })),
    h('div', { id: 'pending-merchants' }, section(t('appr.merchants'), merchants)), section(t('appr.offers'), offers),
    h('div', { id: 'all-merchants' }, section(t('appr.all_merchants'), everyone)));
}

// ---- Settlements ----

/** The next workflow step(s) of a settlement for this viewer, plus its export. */
export function settlementActions(s, viewer, reload, confirm, me) {
  const base = `/settlements/${encodeURIComponent(s.id)}`;
  const out = [];
  if (viewer === 'merchant') {
    // The merchant's face brings its own confirm (it asks for the invoice number).
    if (s.status === 'draft' && confirm) out.push(confirm(s, reload));
  } else {
    if (s.status === 'confirmed') out.push(actionButton(t('settle.verify'), `${base}/verify`, { cls: 'btn-primary', onDone: reload }));
    // Four eyes: whoever verified cannot approve; say so instead of offering a button
    // that can only be refused.
    if (s.status === 'verified' && me && s.verified_by === me.id) out.push(h('span', { class: 'muted small four-eyes-note', text: t('settle.not_yours_to_approve') }));
    else if (s.status === 'verified') out.push(actionButton(t('settle.approve'), `${base}/approve`, { cls: 'btn-primary', onDone: reload }));
    if (s.status === 'approved') out.push(actionButton(t('settle.pay'), `${base}/pay`, { ask: t('settle.bank_ref'), askTitle: t('settle.pay_title'), key: 'bank_reference', cls: 'btn-primary', onDone: reload }));
    if (['draft', 'confirmed', 'verified'].includes(s.status)) out.push(actionButton(t('settle.reject'), `${base}/reject`, { ask: t('reason'), cls: 'btn-danger-ghost', onDone: reload }));
  }
  const details = h('button', { class: 'btn btn-ghost btn-sm', text: t('settle.details'), dataset: { action: 'details' } });
  details.addEventListener('click', () => busy(details, () => showLines(s.id, viewer)));
  out.push(details);
  out.push(download(`/api/v1${base}/export`, t('settle.export')));
  return h('div', { class: 'row-tight' }, out);
}

/** A settlement's lines in a dialog; reversal lines carry negative amounts. Officials
 * get each line's trace. */
async function showLines(id, viewer) {
  let s;
  try {
    s = await get(`/settlements/${encodeURIComponent(id)}`);
  } catch (e) {
    toast(e);
    return;
  }
  const dlg = h('dialog', { class: 'dialog dialog-wide', id: 'settlement-lines' });
  dlg.append(h('div', { class: 'dialog-body' },
    h('h3', { text: t('settle.details_title', { m: s.merchant_name || `#${s.merchant_id}`, p: s.period }) }),
    s.invoice_no ? h('p', { id: 'settlement-invoice' }, h('span', { class: 'muted', text: `${t('owner.settle.invoice')}${t('owner.colon')}` }), h('span', { class: 'mono', text: s.invoice_no })) : null,
    table([
      { label: t('audit.at'), cell: (l) => dateTime(l.at) },
      { label: t('quote.talent'), cell: (l) => l.talent || '' },
      { label: t('settle.kind'), cell: (l) => t(`settle.kind.${l.kind}`) },
      { label: t('settle.bill'), class: 'num', cell: (l) => money(l.bill_fen) },
      { label: t('settle.discount'), class: 'num', cell: (l) => money(l.discount_fen) },
      { label: t('settle.subsidy'), class: 'num', cell: (l) => money(l.subsidy_fen) },
      viewer === 'official' ? { label: t('actions'), cell: (l) => traceLink(l.redemption_id) } : null,
    ].filter(Boolean), s.lines || [], { class: 'table-compact' }),
    h('div', { class: 'row-end' }, h('button', { class: 'btn btn-primary', text: t('close'), onclick: () => dlg.close() }))));
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
}

function lastMonth() {
  const [y, m] = shanghaiDate().split('-').map(Number);
  return m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, '0')}`;
}

function settlements(body, ctx) {
  const me = ctx && ctx.me;
  const statuses = ['', 'draft', 'confirmed', 'verified', 'approved', 'paid', 'rejected'];
  let status = '';
  const filter = h('div', { class: 'chips' });
  const box = h('div', {});
  const runBox = h('div', { id: 'generate-result', 'aria-live': 'polite' });
  const payoutBox = h('div', { id: 'payout-batch' });
  // The month to close is usually the last one; the list and the payout batch below
  // follow the month in the box, so what is generated is what is shown.
  const period = h('input', { class: 'input select-sm', name: 'period', id: 'settle-period', value: lastMonth(), pattern: '\\d{4}-\\d{2}', inputmode: 'numeric' });
  const chosen = () => (/^\d{4}-(0[1-9]|1[0-2])$/.test(period.value.trim()) ? period.value.trim() : null);
  function draw() {
    mount(filter, statuses.map((st) => h('button', {
      class: ['chip-btn', st === status && 'is-active'], text: st ? t(`st.${st}`) : t('cat.all'),
      onclick: () => { status = st; draw(); },
    })));
    const p = chosen();
    const query = [p && `period=${p}`, status && `status=${status}`].filter(Boolean).join('&');
    mount(box, pagedList(`/settlements${query ? `?${query}` : ''}`, (items, reload) => table([
      { label: t('settle.merchant'), cell: (s) => s.merchant_name || `#${s.merchant_id}` },
      { label: t('settle.period'), cell: (s) => s.period },
      { label: t('settle.lines'), class: 'num', cell: (s) => String(s.line_count ?? '') },
      { label: t('settle.bill'), class: 'num', cell: (s) => money(s.bill_fen) },
      { label: t('settle.subsidy'), class: 'num', cell: (s) => money(s.subsidy_fen) },
      { label: t('status'), cell: (s) => chip(s.status) },
      { label: t('actions'), cell: (s) => settlementActions(s, 'official', () => { reload(); payouts(); }, null, me) },
    ], items)));
    payouts();
  }
  async function payouts() {
    const p = chosen();
    if (!p) {
      mount(payoutBox);
      return;
    }
    try {
      const [approved, paid] = await Promise.all([
        list(`/settlements?period=${p}&status=approved&per_page=200`),
        list(`/settlements?period=${p}&status=paid&per_page=200`),
      ]);
      mount(payoutBox, payoutBatch(p, [...approved.items, ...paid.items]));
    } catch (e) {
      mount(payoutBox, errorBox(e));
    }
  }
  const exportLink = download(`/api/v1/payouts/export?period=${encodeURIComponent(period.value)}`, t('payouts.export'));
  period.addEventListener('change', () => {
    exportLink.href = `/api/v1/payouts/export?period=${encodeURIComponent(period.value.trim())}`;
    runBox.replaceChildren();
    if (chosen()) draw();
  });
  const generate = w(h('button', { class: 'btn btn-ghost btn-sm', id: 'settle-generate', text: t('settle.generate') }));
  if (generate) {
    generate.addEventListener('click', () => busy(generate, async () => {
      runBox.replaceChildren();
      try {
        const run = await post('/settlements/generate', { period: period.value.trim() });
        mount(runBox, generated(run));
        draw();
        refreshTodo();
      } catch (e) {
        mount(runBox, errorBox(e));
      }
    }));
  }
  mount(body, h('div', { class: 'page-head' }, h('h1', { text: t('off.tab.settlements') })),
    section(null, h('p', { class: 'muted small', text: t('settle.four_eyes') }),
      h('div', { class: 'row row-bottom' }, field(t('settle.period'), period), generate, exportLink), runBox),
    section(null, filter, box),
    section(t('payouts.title'), payoutBox));
  // Open on last month, or on a later month that has a settlement already (a merchant
  // leaving mid-month is settled early).
  list('/settlements?per_page=1')
    .then((page) => {
      const newest = page.items[0] && page.items[0].period;
      if (newest && newest > period.value) period.value = newest;
    })
    .catch(() => {})
    .finally(() => {
      exportLink.href = `/api/v1/payouts/export?period=${encodeURIComponent(period.value.trim())}`;
      draw();
    });
}

/** What a generation run made and what it left out, in words an official can act on. */
function generated(run) {
  const made = run.created || [];
  const left = run.left_out || {};
  const subsidy = made.reduce((sum, s) => sum + Number(s.subsidy_fen || 0), 0);
  const lines = [];
  if (left.held_count) lines.push(t('settle.run_held', { n: left.held_count, amount: money(left.held_subsidy_fen) }));
  if (left.disputed_count) lines.push(t('settle.run_disputed', { n: left.disputed_count, amount: money(left.disputed_subsidy_fen) }));
  if (left.settled_before_count) lines.push(t('settle.run_before', { n: left.settled_before_count }));
  const title = made.length
    ? t('settle.run_made', { n: made.length, p: run.period, amount: money(subsidy) })
    : t('settle.run_nothing', { p: run.period });
  return h('div', { class: `alert alert-${made.length ? 'ok' : 'warn'}`, role: 'status', id: 'generate-summary' },
    h('strong', { class: 'alert-title', text: title }),
    lines.length ? h('ul', { class: 'run-notes' }, lines.map((l) => h('li', { text: l }))) : null,
    !made.length && !lines.length ? h('div', { class: 'alert-detail', text: t('settle.run_empty_hint') }) : null);
}

/** The period's payout batch on screen: each approved or paid settlement, paid or not. */
function payoutBatch(period, items) {
  if (!items.length) return h('p', { class: 'muted', text: t('payouts.none', { p: period }) });
  const paid = items.filter((s) => s.status === 'paid');
  const due = items.filter((s) => s.status !== 'paid');
  const sum = (xs) => money(xs.reduce((n, s) => n + Number(s.subsidy_fen || 0), 0));
  return h('div', {},
    h('p', { class: 'payout-summary', text: t('payouts.summary', { p: period, paid: paid.length, paid_sum: sum(paid), due: due.length, due_sum: sum(due) }) }),
    table([
      { label: t('settle.merchant'), cell: (s) => s.merchant_name || `#${s.merchant_id}` },
      { label: t('settle.subsidy'), class: 'num', cell: (s) => money(s.subsidy_fen) },
      { label: t('status'), cell: (s) => h('span', { class: `chip chip-${s.status === 'paid' ? 'paid' : 'approved'}`, text: t(s.status === 'paid' ? 'payouts.paid' : 'payouts.due') }) },
      { label: t('settle.bank_ref'), cell: (s) => s.bank_reference || '—' },
      { label: t('payouts.invoice'), cell: (s) => s.invoice_no || '—' },
    ], items, { rowData: (s) => ({ settlement: String(s.id) }) }));
}

// ---- Disputes ----

/** The disputed sale, from the list's own data: shop, offer, holder, amounts. */
function redemptionSummary(r) {
  if (!r) return '';
  return h('div', { class: 'dispute-sale' },
    h('strong', { class: 'merchant-name-cell', text: [r.merchant && r.merchant.name, r.offer && r.offer.name].filter(Boolean).join(' · ') }),
    h('div', { class: 'small', text: [r.talent && r.talent.masked_name, r.card_no].filter(Boolean).join(' · ') }),
    h('div', { class: 'small', text: `${money(r.bill_fen)} · -${money(r.discount_fen)} · ${dateTime(r.created_at)}` }),
    r.status === 'reversed' ? chip('reversed') : null);
}

function disputes(body) {
  mount(body, h('div', { class: 'page-head' }, h('h1', { text: t('off.tab.disputes') })),
    section(null, pagedList('/disputes', (items, reload) => table([
      { label: t('disp.redemption'), cell: (d) => redemptionSummary(d.redemption) },
      { label: t('reason'), cell: (d) => d.reason || '' },
      { label: t('audit.at'), cell: (d) => dateTime(d.created_at || d.at) },
      { label: t('status'), cell: (d) => h('div', {}, chip(d.status || 'open'),
        d.resolution_note ? h('div', { class: 'small', text: t('disp.decided_by', { who: d.resolved_by_name || '', note: d.resolution_note }) }) : null) },
      { label: t('actions'), cell: (d) => h('div', { class: 'row-tight' },
        traceLink(d.redemption_id),
        d.status && d.status !== 'open' ? null : [
          actionButton(t('disp.uphold'), `/disputes/${d.id}/resolve`, { ask: t('note'), askTitle: t('disp.note_title'), key: 'note', body: { outcome: 'upheld' }, onDone: reload }),
          actionButton(t('disp.dismiss'), `/disputes/${d.id}/resolve`, { ask: t('note'), askTitle: t('disp.note_title'), key: 'note', body: { outcome: 'dismissed' }, onDone: reload })]) },
    ], items))));
}
