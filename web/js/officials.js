// Accounts (administrators only). Creating an official, changing a role, enabling an
// account again and a new activation code are proposals a second administrator approves
// (DESIGN §13); disabling is immediate, since taking power away must not wait.

import { h, mount, dateTime } from './util.js';
import { t } from './i18n.js';
import { post, describe } from './api.js';
import { errorBox, askText, busy, toast, field, section, table, pagedList } from './ui.js';
import { w } from './access.js';
import { proposedNotice } from './proposals.js';

const OFFICIAL_ROLES = ['admin', 'auditor'];

/** A refusal as a toast: the headline in the reader's language and the server's detail. */
function failed(err) {
  const { title, detail } = describe(err);
  toast([title, detail].filter(Boolean).join(' — '), 'error');
}

/** A per-account action: asks a reason when `ask`, posts, and says what happened. */
function accountAction(label, path, { ask, cls = 'btn-ghost', action, proposes = true, onDone }) {
  const b = h('button', { class: `btn btn-sm ${cls}`, type: 'button', text: label, dataset: { action } });
  b.addEventListener('click', async () => {
    const body = {};
    if (ask) {
      const answer = await askText({ title: ask.title, lead: ask.lead, label: t('reason') });
      if (!answer) return;
      body.reason = answer.text;
    }
    await busy(b, async () => {
      try {
        await post(path, body);
        toast(proposes ? t('prop.sent') : t('users.disabled'));
        onDone();
      } catch (err) {
        failed(err);
      }
    });
  });
  return w(b);
}

function accountActions(u, me, reload) {
  if (!OFFICIAL_ROLES.includes(u.role)) return '';
  if (u.id === me.id) return h('span', { class: 'muted small', text: t('users.you') });
  const base = `/users/${u.id}`;
  if (!u.active) {
    return h('div', { class: 'row-tight' },
      accountAction(t('users.enable'), `${base}/reactivate`, { action: 'reactivate', onDone: reload }));
  }
  const other = u.role === 'admin' ? 'auditor' : 'admin';
  const roleButton = h('button', { class: 'btn btn-sm btn-ghost', type: 'button', text: t('users.make', { role: t(`prop.role.${other}`) }), dataset: { action: 'role' } });
  roleButton.addEventListener('click', () => busy(roleButton, async () => {
    try {
      await post(`${base}/role`, { role: other });
      toast(t('prop.sent'));
      reload();
    } catch (err) {
      failed(err);
    }
  }));
  return h('div', { class: 'row-tight' },
    w(roleButton),
    accountAction(t('users.new_code'), `${base}/activation`, { action: 'activation', onDone: reload }),
    accountAction(t('users.disable'), `${base}/deactivate`, {
      action: 'deactivate', cls: 'btn-danger-ghost', proposes: false, onDone: reload,
      ask: { title: t('users.disable_title', { u: u.username }), lead: t('users.disable_lead') },
    }));
}

export function usersView(body, ctx) {
  const username = h('input', { class: 'input', name: 'username', id: 'user-username', autocomplete: 'off', autocapitalize: 'none' });
  const displayName = h('input', { class: 'input', name: 'display_name', id: 'user-display-name' });
  const role = h('select', { class: 'input select', name: 'role', id: 'user-role' },
    OFFICIAL_ROLES.map((r) => h('option', { value: r, text: t(`users.role.${r}`) })));
  const msg = h('div', { class: 'form-msg', id: 'user-msg' });
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', id: 'user-submit', text: t('users.propose') });
  const listBox = pagedList('/users', (items, reload) => table([
    { label: t('users.username'), cell: (u) => h('strong', { text: u.username }) },
    { label: t('users.display_name'), cell: (u) => u.display_name || '' },
    { label: t('users.role'), cell: (u) => t(OFFICIAL_ROLES.includes(u.role) ? `users.role.${u.role}` : `role.${u.role}`) },
    { label: t('users.active'), cell: (u) => h('span', { class: ['chip', u.active ? 'chip-active' : 'chip-suspended'], text: u.active ? t('users.on') : t('users.off') }) },
    { label: t('users.created_at'), cell: (u) => dateTime(u.created_at) },
    { label: t('actions'), cell: (u) => accountActions(u, ctx.me, reload) },
  ], items, { rowData: (u) => ({ user: u.username }) }));
  const form = h('form', { class: 'form-grid', id: 'user-form', novalidate: true },
    field(t('users.username'), username), field(t('users.display_name'), displayName),
    field(t('users.role'), role),
    h('p', { class: 'field-wide small users-how', text: t('users.no_password') }),
    h('div', { class: 'field-wide' }, msg, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, async () => {
      mount(msg);
      try {
        const res = await post('/users', { username: username.value.trim(), role: role.value, display_name: displayName.value.trim() || undefined });
        mount(msg, proposedNotice(res.proposal));
        form.reset();
      } catch (err) {
        mount(msg, errorBox(err));
      }
    });
  });
  mount(body, h('div', { class: 'page-head' }, h('h1', { text: t('off.tab.users') })),
    w(h('details', { class: 'panel collapsible', id: 'user-new' }, h('summary', { class: 'panel-title', text: t('users.new') }), form)),
    section(t('off.tab.users'), listBox));
}
