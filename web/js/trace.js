// The trace of one redemption (DESIGN §5): the sale at the counter, its settlement
// line(s), their settlements with who confirmed, verified and approved them, the payout
// with the bank's reference, and the audit entries of all of it — on one screen, as a
// numbered chain an official can read from top to bottom. Names everywhere, never ids.

import { h, mount, money, dateTime } from './util.js';
import { t, has } from './i18n.js';
import { get } from './api.js';
import { errorBox, alertBox, loading, chip, section } from './ui.js';

/** The address of a redemption's trace in the official face. */
export function traceHref(id) {
  return `#/trace/${encodeURIComponent(id)}`;
}

/** A link to a redemption's trace; it closes the dialog it sits in, if any. */
export function traceLink(id, label = t('trace.open')) {
  return h('a', {
    class: 'btn btn-ghost btn-sm trace-link', href: traceHref(id), dataset: { trace: String(id) }, text: label,
    onclick: (e) => {
      const dlg = e.currentTarget.closest('dialog');
      if (dlg) dlg.close();
    },
  });
}

/** An audit actor in the reader's words: a person's name, or what the system was doing. */
export function actorLabel(name) {
  if (!name) return '';
  if (name === 'anonymous') return t('actor.anonymous');
  const m = /^system:(.+)$/.exec(name);
  if (m) return has(`actor.system.${m[1]}`) ? t(`actor.system.${m[1]}`) : t('actor.system', { what: m[1] });
  return name;
}

/** An audit action in the reader's words (`settlement.verify` → 核验结算单), else as stored. */
export function actionLabel(action) {
  const key = `auditact.${action}`;
  return has(key) ? t(key) : action;
}

/** What kind of thing an audit entry is about (`settlement` → 结算单). */
export function entityWord(type) {
  const key = `entity.${type}`;
  return has(key) ? t(key) : type;
}

/** Label/value pairs as a definition list; empty values are left out. */
function facts(pairs, cls) {
  const rows = [];
  for (const [label, value, valueCls] of pairs) {
    if (value === null || value === undefined || value === '') continue;
    rows.push(h('dt', { text: label }), h('dd', { class: valueCls }, value));
  }
  return h('dl', { class: ['trace-facts', cls] }, rows);
}

/** "王芳 · 2026-11-28 14:05", or the time alone when the step's person is not shown. */
function who(step) {
  if (!step) return null;
  return step.by ? `${step.by.name} · ${dateTime(step.at)}` : dateTime(step.at);
}

/** One step of the chain: a numbered marker, a title, and what happened. */
function stepItem(n, title, kind, ...body) {
  return h('li', { class: ['trace-step', kind && `trace-step-${kind}`], dataset: { step: kind || '' } },
    h('div', { class: 'trace-marker', 'aria-hidden': 'true', text: String(n) }),
    h('div', { class: 'trace-body' }, h('h2', { class: 'trace-title', text: title }), ...body));
}

function counterStep(n, tr) {
  const r = tr.redemption;
  const parts = [
    facts([
      [t('trace.at'), dateTime(r.created_at)],
      [t('settle.merchant'), r.merchant && r.merchant.name, 'trace-strong'],
      [t('quote.offer'), r.offer && r.offer.name],
      [t('card.no'), r.card_no, 'mono'],
      [t('card.holder'), r.talent && r.talent.masked_name],
      [t('trace.cashier'), r.cashier_name],
      [t('quote.bill'), money(r.bill_fen), 'num-left'],
      [t('quote.discount'), `-${money(r.discount_fen)}`, 'num-left'],
      [t('trace.paid'), money(r.paid_fen), 'num-left'],
      [t('quote.subsidy'), money(r.subsidy_fen), 'num-left trace-strong'],
      [t('status'), chip(r.status)],
    ]),
  ];
  if (tr.reversal) {
    const v = tr.reversal;
    parts.push(h('div', { class: 'trace-reversal', dataset: { part: 'reversal' } },
      h('strong', { class: 'trace-reversal-title', text: t('trace.reversed') }),
      facts([
        [t('trace.at'), dateTime(v.at)],
        [t('trace.by'), v.by ? v.by.name : ''],
        [t('reason'), v.reason],
        [t('trace.takes_back'), money(v.subsidy_fen), 'num-left'],
      ])));
  }
  if (tr.dispute) {
    const d = tr.dispute;
    parts.push(h('div', { class: 'trace-note', dataset: { part: 'dispute' } },
      h('strong', { text: t('trace.dispute') }), ' ', chip(d.status),
      facts([
        [t('trace.at'), dateTime(d.opened_at)],
        [t('reason'), d.reason],
        [t('trace.decided'), d.resolved_at ? [d.resolved_by ? d.resolved_by.name : '', dateTime(d.resolved_at)].filter(Boolean).join(' · ') : ''],
        [t('note'), d.resolution_note || ''],
      ])));
  }
  for (const f of tr.flags || []) {
    parts.push(h('div', { class: 'trace-note', dataset: { part: 'flag' } },
      h('strong', { text: t('trace.flag', { rule: has(`anom.rule.${f.rule}`) ? t(`anom.rule.${f.rule}`) : f.rule }) }), ' ',
      h('span', { class: ['sev', `sev-${f.severity}`], text: t(`anom.sev.${f.severity}`) }), ' ',
      h('span', { class: ['chip', `chip-flag-${f.status}`], text: t(`anom.st.${f.status}`) }), ' ',
      h('a', { href: '#/alerts', class: 'small', text: t('trace.to_alerts') })));
  }
  return stepItem(n, t('trace.step.counter'), 'counter', ...parts);
}

function lineStep(n, line) {
  const released = !line.active;
  return stepItem(n, t(line.kind === 'reversal' ? 'trace.step.line_reversal' : 'trace.step.line'), 'line',
    facts([
      [t('settle.kind'), t(`settle.kind.${line.kind}`)],
      [t('settle.bill'), money(line.bill_fen), 'num-left'],
      [t('settle.discount'), money(line.discount_fen), 'num-left'],
      [t('settle.subsidy'), money(line.subsidy_fen), 'num-left trace-strong'],
    ]),
    released ? alertBox('warn', t('trace.released')) : null);
}

function settlementStep(n, s) {
  return stepItem(n, t('trace.step.settlement'), 'settlement',
    facts([
      [t('trace.settlement_no'), `${s.period}${s.run > 1 ? ` · ${t('trace.run', { n: s.run })}` : ''}`, 'trace-strong'],
      [t('status'), chip(s.status)],
      [t('trace.settlement_total'), t('trace.settlement_total_v', { n: s.line_count, sum: money(s.subsidy_fen) })],
      [t('trace.generated'), dateTime(s.created_at)],
      [t('trace.confirmed'), who(s.confirmed)],
      [t('trace.invoice'), s.invoice_no || '', 'mono'],
      [t('trace.verified'), who(s.verified)],
      [t('trace.approved'), who(s.approved)],
      [t('trace.rejected'), who(s.rejected)],
      [t('reason'), s.rejected_reason || ''],
      [t('trace.checkpoint'), s.audit_checkpoint_size ? `#${s.audit_checkpoint_size}` : '', 'mono'],
    ]));
}

function payoutStep(n, s) {
  const p = s.payout;
  if (!p) {
    return stepItem(n, t('trace.step.payout'), 'payout',
      h('p', { class: 'trace-pending', text: s.status === 'rejected' ? t('trace.no_payout_rejected') : t('trace.not_paid') }));
  }
  return stepItem(n, t('trace.step.payout'), 'payout',
    facts([
      [t('trace.bank_ref'), p.bank_reference, 'mono trace-ref'],
      [t('trace.paid_at'), dateTime(p.paid_at)],
      [t('trace.by'), p.paid_by ? p.paid_by.name : ''],
      [t('trace.amount'), money(p.amount_fen), 'num-left trace-strong'],
    ]));
}

/** The audit entries as a list: what happened and who, then when and where in the chain
 * — two short lines that read the same on a desk and on a phone. */
function auditStep(n, entries) {
  const items = entries.map((e) => h('li', { class: 'trace-entry', dataset: { action: e.action } },
    h('div', { class: 'trace-entry-head' },
      h('span', { class: 'trace-action', text: actionLabel(e.action) }),
      h('span', { class: 'trace-actor', text: actorLabel(e.actor_name) })),
    h('div', { class: 'trace-entry-meta' },
      [dateTime(e.at), entityWord(e.entity_type), e.seq === null || e.seq === undefined ? t('trace.unsealed') : t('trace.seq_n', { n: e.seq })].join(' · '))));
  return stepItem(n, t('trace.step.audit'), 'audit',
    items.length ? h('ol', { class: 'trace-entries' }, items) : h('p', { class: 'muted', text: t('empty') }),
    h('p', { class: 'small trace-hint', text: t('trace.audit_hint') }));
}

/** The whole chain, numbered top to bottom. */
function chain(tr) {
  const steps = [];
  let n = 0;
  steps.push(counterStep(++n, tr));
  if (!(tr.lines || []).length) {
    const why = tr.redemption.status === 'reversed' ? t('trace.no_lines_reversed')
      : tr.dispute && tr.dispute.status === 'open' ? t('trace.no_lines_disputed') : t('trace.no_lines');
    steps.push(stepItem(++n, t('trace.step.line'), 'line', h('p', { class: 'trace-pending', text: why })));
  }
  for (const line of tr.lines || []) {
    steps.push(lineStep(++n, line));
    steps.push(settlementStep(++n, line.settlement));
    steps.push(payoutStep(++n, line.settlement));
  }
  if (tr.audit) steps.push(auditStep(++n, tr.audit));
  return h('ol', { class: 'trace-chain', id: 'trace-chain' }, steps);
}

/** The trace screen of redemption `id`. */
export function traceView(body, id) {
  const box = h('div', { id: 'trace' }, loading());
  const back = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', id: 'trace-back', text: t('trace.back'), onclick: () => history.back() });
  mount(body, h('div', { class: 'page-head' },
    h('div', {}, h('h1', { text: t('trace.title') }), h('p', { class: 'trace-lead', text: t('trace.lead') })),
    back), box);
  (async () => {
    try {
      const tr = await get(`/redemptions/${encodeURIComponent(id)}/trace`);
      const r = tr.redemption;
      mount(box,
        section(null, h('p', { class: 'trace-summary', id: 'trace-summary' },
          t('trace.summary', {
            m: (r.merchant && r.merchant.name) || '', at: dateTime(r.created_at), s: money(r.subsidy_fen),
          }), r.status === 'reversed' ? [' ', h('strong', { class: 'trace-summary-reversed', text: t('trace.reversed') })] : null)),
        chain(tr));
    } catch (e) {
      mount(box, errorBox(e));
    }
  })();
}
