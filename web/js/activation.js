// The activation code dialog (DESIGN §10): a code is shown once, to the official or owner
// who hands it over, with how to do that. Used for new officials, talents registered
// without a password and every forgotten password.

import { h, dateTime } from './util.js';
import { t } from './i18n.js';
import { alertBox, toast } from './ui.js';

/** "li.si（李四）" / "li.si (Li Si)": the login name, and the display name where there is one. */
function person(username, displayName) {
  if (!displayName) return username;
  return t('prop.person', { u: username, n: displayName });
}

/** An activation code for `username` (a talent, an owner, a cashier), shown once. */
export function showActivationFor(activation, username, displayName) {
  showActivationCode(activation, { payload: { username, display_name: displayName } });
}

/**
 * The activation code of a new or reset account (`p.payload` names it), shown once with
 * how to hand it over; only its button closes the dialog, so Escape cannot lose it.
 */
export function showActivationCode(activation, p) {
  const d = p.payload || {};
  const code = h('code', { class: 'activation-code mono', id: 'activation-code', text: activation.activation_code });
  const copy = h('button', { class: 'btn btn-ghost', type: 'button', id: 'activation-copy', text: t('act.copy') });
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(activation.activation_code);
      toast(t('act.copied'));
    } catch {
      // No clipboard API outside HTTPS: select the code so Ctrl+C copies it.
      const range = document.createRange();
      range.selectNodeContents(code);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      toast(t('act.copy_failed'), 'error');
    }
  });
  const dlg = h('dialog', { class: 'dialog dialog-wide', id: 'activation-dialog' });
  const done = h('button', { class: 'btn btn-primary', type: 'button', id: 'activation-done', text: t('act.noted') });
  done.addEventListener('click', () => dlg.close());
  dlg.append(h('div', { class: 'dialog-body' },
    h('h3', { text: t('act.title', { who: person(d.username, d.display_name) }) }),
    h('div', { class: 'activation-box' },
      h('div', { class: 'field-label', text: t('act.code') }),
      h('div', { class: 'key-row' }, code, copy),
      h('div', { class: 'small', id: 'activation-expiry', text: t('act.expires', { at: dateTime(activation.activation_expires_at) }) })),
    alertBox('warn', t('act.once')),
    h('ol', { class: 'steps' },
      h('li', { text: t('act.step1', { who: d.username }) }),
      h('li', { text: t('act.step2') }),
      h('li', { text: t('act.step3') })),
    h('div', { class: 'row-end' }, done)));
  // Escape must not lose the code by accident: only the button closes this dialog.
  dlg.addEventListener('cancel', (e) => e.preventDefault());
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  done.focus();
}

