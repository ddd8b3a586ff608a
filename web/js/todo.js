// What waits for the official who is signed in (`GET /me/todo`), as badges on the
// official face's tabs: proposals to decide, merchants and offers to approve,
// settlements to verify, approve or pay (the four-eyes rules decide which are "mine"),
// open disputes, and alerts — red when one holds money. Refreshed when the face loads and
// after every action that can change a count.

import { h } from './util.js';
import { t } from './i18n.js';
import { get } from './api.js';
import { revealActiveTab } from './ui.js';

let nav = null;
let latest = 0;

/** Puts (or removes) the badge of tab `tab`: `n` with its spoken label, or none at 0. */
function badge(tab, n, id, label, soft = false) {
  const el = nav.querySelector(`[data-tab='${tab}']`);
  if (!el) return;
  for (const old of el.querySelectorAll('.tab-badge')) old.remove();
  if (!(n > 0)) return;
  el.append(h('span', {
    class: ['tab-badge', soft && 'tab-badge-soft'], id, title: label, 'aria-label': label, text: String(n),
  }));
}

/** Draws the counts on `navEl` (remembered for later refreshes). */
export function todoBadges(navEl) {
  nav = navEl;
  return refreshTodo();
}

/** Fetches the counts again and redraws the badges; a failure leaves them as they were. */
export async function refreshTodo() {
  const seq = ++latest;
  const target = nav;
  if (!target) return;
  let c;
  try {
    c = await get('/me/todo');
  } catch {
    // The badges are a convenience: each tab shows its own list and any error.
    return;
  }
  // A newer refresh, or a new face, has taken over.
  if (seq !== latest || target !== nav || !target.isConnected) return;
  const s = c.settlements || {};
  badge('proposals', c.proposals, 'proposals-badge', t('prop.badge', { n: c.proposals }));
  const approvals = (c.merchants || 0) + (c.offers || 0);
  badge('approvals', approvals, 'approvals-badge', t('todo.approvals', { m: c.merchants || 0, o: c.offers || 0 }));
  const settle = (s.verify || 0) + (s.approve || 0) + (s.pay || 0);
  badge('settlements', settle, 'settlements-badge', t('todo.settlements', { v: s.verify || 0, a: s.approve || 0, p: s.pay || 0 }));
  badge('disputes', c.disputes, 'disputes-badge', t('todo.disputes', { n: c.disputes }));
  if (c.anomalies_held > 0) badge('alerts', c.anomalies_held, 'held-badge', t('anom.badge', { n: c.anomalies_held }));
  else badge('alerts', c.anomalies, 'alerts-badge', t('todo.alerts', { n: c.anomalies }), true);
  // The tab strip grew: keep the shown tab in view on a phone.
  revealActiveTab(target);
}
