// Dual control (DESIGN §13) in the official face: the changes one official must not make
// alone wait here for a second administrator. Each proposal is said in the reader's
// language from its kind and payload (the server's `summary` is English only); the
// proposer sees no Approve button on their own, only Withdraw. Approving a new or reset
// official shows the activation code once, to be handed to that person.

import { h, mount, money, dateTime } from './util.js';
import { t } from './i18n.js';
import { get, post, list } from './api.js';
import { errorBox, alertBox, chip, askText, busy, toast, pagedList } from './ui.js';
import { canWrite, w } from './access.js';
import { showActivationCode } from './activation.js';

const CATEGORIES = ['clothing', 'food', 'housing', 'transport', 'medical', 'education', 'leisure', 'other'];

/** "li.si（李四）" / "li.si (Li Si)": the login name, and the display name where there is one. */
function person(username, displayName) {
  if (!displayName) return username;
  return t('prop.person', { u: username, n: displayName });
}

const roleWord = (role) => t(`prop.role.${role}`);

/** The budget's main figures in the reader's language, e.g. "¥1,000,000.00". */
function envelopeLines(before, after) {
  const lines = [];
  if (after.categories) {
    const old = (before && before.categories) || {};
    const keys = [...new Set([...Object.keys(old), ...Object.keys(after.categories)])]
      .sort((a, b) => CATEGORIES.indexOf(a) - CATEGORIES.indexOf(b));
    for (const c of keys) {
      const name = t(`catlong.${c}`);
      const was = old[c];
      const now = after.categories[c];
      if (was === undefined) lines.push(t('prop.env.new', { c: name, to: money(now) }));
      else if (now === undefined) lines.push(t('prop.env.removed', { c: name, from: money(was) }));
      else if (was !== now) lines.push(t('prop.env.changed', { c: name, from: money(was), to: money(now) }));
    }
  }
  const wasCap = before ? before.merchant_monthly_cap_fen ?? null : null;
  const nowCap = after.merchant_monthly_cap_fen ?? null;
  if (wasCap !== nowCap) {
    if (nowCap === null) lines.push(t('prop.cap.removed', { from: money(wasCap) }));
    else if (wasCap === null) lines.push(t('prop.cap.new', { to: money(nowCap) }));
    else lines.push(t('prop.cap.changed', { from: money(wasCap), to: money(nowCap) }));
  }
  return lines;
}

/** What approving `p` does, in plain words: a headline and, for budgets, the details. */
export function effect(p) {
  const d = p.payload || {};
  switch (p.kind) {
    case 'official.create':
      return { title: t('prop.create', { role: roleWord(d.role), who: person(d.username, d.display_name) }), lines: [] };
    case 'official.role':
      return { title: t('prop.role_change', { who: d.username, from: roleWord(d.role), to: roleWord(d.new_role) }), lines: [] };
    case 'official.reactivate':
      return { title: t('prop.reactivate', { role: roleWord(d.role), who: d.username }), lines: [] };
    case 'official.reset':
      return { title: t('prop.reset', { role: roleWord(d.role), who: d.username }), lines: [] };
    case 'budget.set': {
      const after = d.settings || {};
      const before = d.before || null;
      let title;
      if (!before) title = t('prop.budget.set', { y: d.year, to: money(after.total_fen) });
      else if (before.total_fen === after.total_fen) title = t('prop.budget.same', { y: d.year, to: money(after.total_fen) });
      else title = t('prop.budget.change', { y: d.year, from: money(before.total_fen), to: money(after.total_fen) });
      return { title, lines: envelopeLines(before, after) };
    }
    case 'key.rotate': {
      const lines = [t('prop.key.operator', { purpose: d.purpose })];
      if (p.result && p.result.kid) lines.push(t('prop.key.done', { kid: p.result.kid }));
      return { title: t('prop.key.rotate', { what: t(`prop.key.${d.purpose}`) }), lines };
    }
    case 'anomaly.thresholds': {
      const before = d.before || {};
      const after = d.thresholds || {};
      const lines = Object.keys(after)
        .filter((k) => before[k] !== after[k])
        .map((k) => t('prop.thresholds.line', { name: k, from: before[k], to: after[k] }));
      return { title: t('prop.thresholds'), lines };
    }
    default:
      // A kind this page does not know yet: the server's own words.
      return { title: p.summary, lines: [] };
  }
}

/** The notice after a proposing request answered 202. */
export function proposedNotice(proposal, note) {
  const box = alertBox('ok', t('prop.sent'));
  for (const line of [effect(proposal).title, note, t('prop.expires', { at: dateTime(proposal.expires_at) })]) {
    if (line) box.append(h('div', { class: 'alert-detail', text: line }));
  }
  return box;
}

/** The decision buttons of an open proposal for this viewer (none for auditors). */
function decision(p, me, msg, onDone) {
  if (!canWrite()) return null;
  const run = (button, work) => busy(button, async () => {
    mount(msg);
    try {
      await work();
    } catch (err) {
      mount(msg, errorBox(err));
    }
  });
  const ask = (title) => askText({ title, lead: effect(p).title, label: t('reason') });
  if (p.proposed_by === me.id) {
    const withdraw = h('button', { class: 'btn btn-ghost btn-sm', type: 'button', text: t('prop.withdraw'), dataset: { action: 'withdraw' } });
    withdraw.addEventListener('click', async () => {
      const answer = await ask(t('prop.withdraw_title'));
      if (!answer) return;
      run(withdraw, async () => {
        await post(`/proposals/${p.id}/reject`, { reason: answer.text });
        toast(t('prop.withdrawn'));
        onDone();
      });
    });
    return h('div', { class: 'proposal-actions' },
      h('span', { class: 'proposal-waiting', text: t('prop.waiting_other') }),
      w(withdraw));
  }
  const approve = h('button', { class: 'btn btn-primary btn-sm', type: 'button', text: t('appr.approve'), dataset: { action: 'approve' } });
  approve.addEventListener('click', () => run(approve, async () => {
    const res = await post(`/proposals/${p.id}/approve`);
    if (res && res.activation) showActivationCode(res.activation, p);
    toast(t(p.kind === 'budget.set' ? 'prop.approved_budget' : 'prop.approved'));
    onDone();
  }));
  const reject = h('button', { class: 'btn btn-danger-ghost btn-sm', type: 'button', text: t('appr.reject'), dataset: { action: 'reject' } });
  reject.addEventListener('click', async () => {
    const answer = await ask(t('prop.reject_title'));
    if (!answer) return;
    run(reject, async () => {
      await post(`/proposals/${p.id}/reject`, { reason: answer.text });
      toast(t('prop.rejected'));
      onDone();
    });
  });
  return h('div', { class: 'proposal-actions' }, w(approve), w(reject));
}

/** One proposal as a card: the effect first, then who asked and until when. */
function card(p, me, reload) {
  const { title, lines } = effect(p);
  const msg = h('div', { class: 'form-msg' });
  const mine = p.proposed_by === me.id;
  const meta = [mine ? t('prop.by_me', { at: dateTime(p.created_at) }) : t('prop.by', { who: p.proposed_by_username, at: dateTime(p.created_at) })];
  if (p.status === 'open') meta.push(t('prop.expires', { at: dateTime(p.expires_at) }));
  else if (p.decided_at && p.decided_by_username) meta.push(t(`prop.decided.${p.status}`, { who: p.decided_by_username, at: dateTime(p.decided_at) }));
  else if (p.status === 'expired') meta.push(t('prop.expired_at', { at: dateTime(p.expires_at) }));
  return h('article', { class: ['proposal', mine && 'proposal-mine'], dataset: { proposal: String(p.id), kind: p.kind, status: p.status } },
    h('div', { class: 'proposal-head' },
      h('strong', { class: 'proposal-title', text: title }),
      chip(p.status)),
    lines.length ? h('ul', { class: 'proposal-lines' }, lines.map((l) => h('li', { text: l }))) : null,
    h('div', { class: 'proposal-meta muted small' }, meta.map((m) => h('span', { text: m }))),
    p.decision_reason ? h('div', { class: 'proposal-reason small', text: t('prop.reason', { r: p.decision_reason }) }) : null,
    msg,
    p.status === 'open' ? decision(p, me, msg, reload) : null);
}

/** The proposals tab: what waits (open) and, behind a filter, what was decided. */
export function proposalsView(body, ctx, onChange) {
  const statuses = ['open', 'approved', 'rejected', 'expired'];
  let status = 'open';
  const filter = h('div', { class: 'chips', role: 'group', id: 'proposal-filter' });
  const box = h('div', { id: 'proposal-list' });
  const lead = h('p', { class: 'small proposal-lead', text: t(canWrite() ? 'prop.lead' : 'prop.lead_ro') });
  function draw() {
    mount(filter, statuses.map((st) => h('button', {
      class: ['chip-btn', st === status && 'is-active'], type: 'button', dataset: { status: st },
      text: t(`prop.filter.${st}`), onclick: () => { status = st; draw(); },
    })));
    const reload = () => { draw(); if (onChange) onChange(); };
    mount(box, pagedList(`/proposals?status=${status}`, (items) => h('div', { class: 'proposals' }, items.map((p) => card(p, ctx.me, reload))), 20));
  }
  mount(body, h('div', { class: 'page-head' }, h('h1', { text: t(canWrite() ? 'off.tab.proposals' : 'off.tab.proposals_ro') })),
    h('section', { class: 'panel' }, lead, filter, box));
  draw();
}

/** How many open proposals wait for `me` to decide: other administrators' ones. */
export async function waitingCount(me) {
  if (me.role !== 'admin') return 0;
  const page = await list('/proposals?status=open&per_page=100');
  return page.items.filter((p) => p.proposed_by !== me.id).length;
}

/** Open budget proposals for `year`, so the budget page can say a change is pending. */
export async function openBudgetProposals(year) {
  const page = await get('/proposals?status=open&per_page=100');
  return (page.items || []).filter((p) => p.kind === 'budget.set' && p.payload && p.payload.year === year);
}
