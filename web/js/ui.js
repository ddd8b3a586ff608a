// Shared pieces of the interface: alerts, empty states, status chips, tables, forms,
// the reason dialog and toasts.

import { h, mount } from './util.js';
import { t } from './i18n.js';
import { describe, list } from './api.js';

export function alertBox(kind, title, detail) {
  return h('div', { class: `alert alert-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    h('strong', { class: 'alert-title', text: title }),
    detail ? h('div', { class: 'alert-detail', text: detail }) : null);
}

/**
 * The refusal as an alert, in the page's language. A `validation` problem that names a
 * field of the form on screen is also said right under that field, which is marked
 * invalid and focused.
 */
export function errorBox(err) {
  const { title, detail, field: name } = describe(err);
  if (name) queueMicrotask(() => markField(name, detail ? `${title} ${detail}` : title));
  return alertBox('error', title, detail);
}

/** Clears what `markField` said about a form's fields. */
export function clearFieldErrors(root = document) {
  for (const note of root.querySelectorAll('.field-error')) note.remove();
  for (const input of root.querySelectorAll('[aria-invalid="true"]')) input.removeAttribute('aria-invalid');
}

let fieldErrorSeq = 0;
function markField(name, text) {
  const input = [...document.querySelectorAll(`form [name="${CSS.escape(name)}"]`)].find((el) => el.offsetParent !== null);
  if (!input) return;
  const form = input.closest('form');
  clearFieldErrors(form);
  const id = `field-error-${++fieldErrorSeq}`;
  const note = h('span', { class: 'field-error', id, text });
  (input.closest('.field') || input.parentElement).append(note);
  input.setAttribute('aria-invalid', 'true');
  input.setAttribute('aria-describedby', id);
  input.addEventListener('input', () => {
    note.remove();
    input.removeAttribute('aria-invalid');
  }, { once: true });
  input.focus();
}

export function emptyState(page) {
  return h('div', { class: 'empty' },
    h('div', { class: 'empty-mark', 'aria-hidden': 'true', text: '—' }),
    h('p', { text: t('empty') }),
    page && page.unavailable ? h('p', { class: 'muted small', text: t('unavailable') }) : null);
}

export function chip(status) {
  const key = `st.${status}`;
  const label = t(key) === key ? String(status ?? '') : t(key);
  return h('span', { class: `chip chip-${String(status ?? '').replace(/[^a-z_]/g, '')}`, text: label });
}

export function loading() {
  return h('div', { class: 'loading', text: t('loading') });
}

/** columns: [{label, cell: row => Node|string, class?}] */
export function table(columns, rows, opts = {}) {
  return h('div', { class: 'table-wrap' },
    h('table', { class: ['table', opts.class] },
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.class, text: c.label })))),
      h('tbody', {}, rows.map((r) => h('tr', { dataset: opts.rowData ? opts.rowData(r) : undefined },
        columns.map((c) => h('td', { class: c.class, 'data-label': c.label }, c.cell(r))))))));
}

export function field(label, input, hint) {
  return h('label', { class: 'field' }, h('span', { class: 'field-label', text: label }), input, hint ? h('span', { class: 'field-hint', text: hint }) : null);
}

export function section(title, ...children) {
  return h('section', { class: 'panel' }, title ? h('h2', { class: 'panel-title', text: title }) : null, ...children);
}

/** Runs `work` with the button disabled, so a double click cannot send twice. */
export async function busy(button, work) {
  if (button.disabled) return undefined;
  button.disabled = true;
  button.classList.add('is-busy');
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.classList.remove('is-busy');
  }
}

let toastTimer;
/**
 * A short notice at the bottom of the screen. A success fades after a few seconds; a
 * refusal (`kind` 'error', or an error passed as `message`) stays until it is closed,
 * so nobody misses why an action did not happen.
 */
export function toast(message, kind = 'ok') {
  let text = message;
  if (message instanceof Error) {
    const { title, detail } = describe(message);
    text = detail ? `${title} ${detail}` : title;
    kind = 'error';
  }
  let el = document.getElementById('toast');
  if (!el) {
    el = h('div', { id: 'toast', class: 'toast' });
    document.body.append(el);
  }
  clearTimeout(toastTimer);
  const sticky = kind === 'error';
  el.className = `toast toast-${kind} is-shown`;
  el.setAttribute('role', sticky ? 'alert' : 'status');
  mount(el, h('span', { class: 'toast-text', text }),
    sticky ? h('button', { type: 'button', class: 'toast-close', 'aria-label': t('close'), text: '×', onclick: () => el.classList.remove('is-shown') }) : null);
  if (!sticky) toastTimer = setTimeout(() => el.classList.remove('is-shown'), 3500);
}

/** A modal asking for a text (a reason, a note, a bank reference); resolves null on cancel. */
export function askText({ title, lead, label, required = true, extra }) {
  return new Promise((resolve) => {
    const input = h('textarea', { class: 'input', rows: '3', name: 'reason' });
    const msg = h('div', { class: 'dialog-msg' });
    const dlg = h('dialog', { class: 'dialog' });
    let choice = null;
    const form = h('form', { method: 'dialog', class: 'dialog-body' },
      h('h3', { text: title }),
      lead ? h('p', { class: 'muted', text: lead }) : null,
      extra || null,
      field(label || t('reason'), input),
      msg,
      h('div', { class: 'row-end' },
        h('button', { type: 'button', class: 'btn btn-ghost', text: t('cancel'), onclick: () => dlg.close() }),
        h('button', { type: 'submit', class: 'btn btn-primary', text: t('confirm') })));
    form.addEventListener('submit', (e) => {
      const v = input.value.trim();
      if (required && !v) {
        e.preventDefault();
        mount(msg, alertBox('error', t('reason_required')));
        return;
      }
      choice = { text: v, extra: extra ? new FormData(form) : null };
    });
    dlg.append(form);
    dlg.addEventListener('close', () => {
      dlg.remove();
      resolve(choice);
    });
    document.body.append(dlg);
    dlg.showModal();
    input.focus();
  });
}

/**
 * A modal asking to confirm a step that cannot be taken back; resolves true only when
 * the person presses `ok` (the focus starts on cancel, so Enter alone does nothing).
 */
export function askConfirm({ title, lead, ok, danger = false, id }) {
  return new Promise((resolve) => {
    let choice = false;
    const dlg = h('dialog', { class: 'dialog', id, 'aria-labelledby': id ? `${id}-title` : undefined });
    const cancel = h('button', { type: 'button', class: 'btn btn-ghost', dataset: { action: 'cancel' }, text: t('cancel'), onclick: () => dlg.close() });
    const yes = h('button', {
      type: 'button', class: ['btn', danger ? 'btn-danger' : 'btn-primary'], dataset: { action: 'confirm' }, text: ok || t('confirm'),
      onclick: () => { choice = true; dlg.close(); },
    });
    dlg.append(h('div', { class: 'dialog-body' },
      h('h3', { id: id ? `${id}-title` : undefined, text: title }),
      lead ? h('p', { class: 'dialog-lead', text: lead }) : null,
      h('div', { class: 'row-end' }, cancel, yes)));
    dlg.addEventListener('close', () => {
      dlg.remove();
      resolve(choice);
    });
    document.body.append(dlg);
    dlg.showModal();
    cancel.focus();
  });
}

/** A list section that loads `path`, renders rows with `render`, and pages. */
export function pagedList(path, render, perPage = 20) {
  const box = h('div', { class: 'paged' });
  let page = 1;
  async function load() {
    mount(box, loading());
    const sep = path.includes('?') ? '&' : '?';
    try {
      const res = await list(`${path}${sep}page=${page}&per_page=${perPage}`);
      const pages = Math.max(1, Math.ceil((res.total || 0) / (res.per_page || perPage)));
      mount(box,
        res.items.length ? render(res.items, load) : emptyState(res),
        pages > 1 ? h('div', { class: 'pager' },
          h('button', { class: 'btn btn-ghost btn-sm', text: t('prev'), disabled: page <= 1, onclick: () => { page -= 1; load(); } }),
          h('span', { class: 'muted small', text: t('page_of', { page, pages }) }),
          h('button', { class: 'btn btn-ghost btn-sm', text: t('next'), disabled: page >= pages, onclick: () => { page += 1; load(); } })) : null);
    } catch (e) {
      mount(box, errorBox(e));
    }
  }
  load();
  box.reload = load;
  return box;
}

export function stat(label, value, cls) {
  return h('div', { class: ['stat', cls] }, h('div', { class: 'stat-label', text: label }), h('div', { class: 'stat-value', text: value }));
}

/** Tabs as a nav of buttons; `current` is highlighted; selecting calls `onSelect(id)`. */
export function tabs(items, current, onSelect, cls = 'tabs') {
  const nav = h('nav', { class: cls, role: 'tablist' }, items.map((it) => h('button', {
    class: ['tab', it.id === current && 'is-active'],
    role: 'tab',
    'aria-selected': it.id === current ? 'true' : 'false',
    dataset: { tab: it.id },
    onclick: () => onSelect(it.id),
  }, it.icon ? h('span', { class: 'tab-icon', 'aria-hidden': 'true', text: it.icon }) : null, h('span', { class: 'tab-label', text: it.label }))));
  // On a phone the strip scrolls sideways: its edges fade where more tabs hide, so
  // nobody misses the ones off-screen.
  const edges = () => {
    const more = nav.scrollWidth - nav.clientWidth;
    nav.classList.toggle('more-left', more > 1 && nav.scrollLeft > 1);
    nav.classList.toggle('more-right', more > 1 && nav.scrollLeft < more - 1);
  };
  nav.addEventListener('scroll', edges, { passive: true });
  if ('ResizeObserver' in window) new ResizeObserver(edges).observe(nav);
  return nav;
}

/** Scrolls a tab strip so its active tab is visible (a phone shows only the first few). */
export function revealActiveTab(nav) {
  const active = nav && nav.querySelector('.tab.is-active');
  if (active && active.scrollIntoView) active.scrollIntoView({ block: 'nearest', inline: 'nearest' });
}

/**
 * A modal with `content` and a confirm button; `work` runs on confirm and returns an
 * error to show (the dialog stays open) or nothing (it closes). Resolves true if done.
 */
export function dialogAsk({ id, title, lead, content, confirmText, danger, wide, work }) {
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
