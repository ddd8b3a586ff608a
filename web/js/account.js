// The account's own dialogs: signing in again over a page whose session ended (so what
// was typed stays), and "my account" — change the password, sign out everywhere.

import { h, mount } from './util.js';
import { t } from './i18n.js';
import { post, ApiError } from './api.js';
import { alertBox, errorBox, field, busy, toast } from './ui.js';

const MIN_PASSWORD = 8;

function modal(id, ...content) {
  const dlg = h('dialog', { class: 'dialog', id, 'aria-labelledby': `${id}-title` }, ...content);
  document.body.append(dlg);
  dlg.addEventListener('close', () => dlg.remove());
  return dlg;
}

/**
 * Asks `me` for their password again over the current page. Resolves true once they are
 * signed in again as the same account; false when they cancel or another account signs
 * in (`onOtherAccount` then takes over).
 */
export function signInAgain(me, onOtherAccount) {
  return new Promise((resolve) => {
    let done = false;
    const username = h('input', { class: 'input', name: 'username', id: 'reauth-username', autocomplete: 'username', value: me.username, required: true, autocapitalize: 'none', spellcheck: 'false' });
    const password = h('input', { class: 'input', name: 'password', id: 'reauth-password', type: 'password', autocomplete: 'current-password', required: true });
    const msg = h('div', { class: 'dialog-msg', role: 'alert' });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'reauth-submit', text: t('reauth.submit') });
    const cancel = h('button', { type: 'button', class: 'btn btn-ghost', text: t('reauth.leave') });
    const form = h('form', { class: 'dialog-body', id: 'reauth-form', novalidate: true },
      h('h3', { id: 'reauth-title', text: t('reauth.title') }),
      h('p', { class: 'muted', text: t('reauth.lead') }),
      field(t('login.username'), username),
      field(t('login.password'), password),
      msg,
      h('div', { class: 'row-end' }, cancel, submit));
    const dlg = modal('reauth', form);
    const finish = (ok) => {
      done = true;
      dlg.close();
      resolve(ok);
    };
    cancel.addEventListener('click', () => finish(false));
    dlg.addEventListener('cancel', (e) => e.preventDefault());
    dlg.addEventListener('close', () => { if (!done) resolve(false); });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(submit, async () => {
        msg.replaceChildren();
        const name = username.value.trim().toLowerCase();
        try {
          await post('/auth/login', { username: name, password: password.value });
        } catch (err) {
          mount(msg, err instanceof ApiError && err.code === 'unauthorized' ? alertBox('error', t('login.wrong')) : errorBox(err));
          password.select();
          return;
        }
        if (name === me.username.toLowerCase()) {
          finish(true);
        } else {
          // Someone else took over the device: the page was not theirs to continue.
          finish(false);
          onOtherAccount();
        }
      });
    });
    dlg.showModal();
    password.focus();
  });
}

/** "My account": change the password, or sign out on every device. */
export function openAccount(me, onSignedOutEverywhere) {
  const current = h('input', { class: 'input', name: 'current_password', id: 'pw-current', type: 'password', autocomplete: 'current-password', required: true });
  const fresh = h('input', { class: 'input', name: 'new_password', id: 'pw-new', type: 'password', autocomplete: 'new-password', required: true, minlength: String(MIN_PASSWORD) });
  const again = h('input', { class: 'input', name: 'new_password_again', id: 'pw-again', type: 'password', autocomplete: 'new-password', required: true });
  const msg = h('div', { class: 'dialog-msg', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'pw-submit', text: t('account.change') });
  const everywhere = h('button', { type: 'button', class: 'btn btn-ghost', id: 'logout-all', text: t('account.logout_all') });
  const close = h('button', { type: 'button', class: 'btn btn-ghost', id: 'account-close', text: t('close') });
  const form = h('form', { class: 'dialog-body', id: 'password-form', novalidate: true },
    h('h3', { id: 'account-title', text: t('account.title') }),
    h('p', { class: 'muted', text: `${t(`role.${me.role}`)} · ${me.username}` }),
    h('h4', { text: t('account.password') }),
    field(t('account.current'), current),
    field(t('account.new'), fresh, t('account.new_hint')),
    field(t('account.again'), again),
    msg,
    h('div', { class: 'row-end' }, close, submit),
    h('hr', {}),
    h('p', { class: 'small', text: t('account.logout_all_lead') }),
    h('div', { class: 'row-end' }, everywhere));
  const dlg = modal('account', form);
  close.addEventListener('click', () => dlg.close());
  const refuse = (input, text) => {
    mount(msg, alertBox('error', text));
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    msg.replaceChildren();
    for (const input of [current, fresh, again]) input.removeAttribute('aria-invalid');
    if (!current.value) return refuse(current, t('account.current_missing'));
    if (fresh.value.length < MIN_PASSWORD) return refuse(fresh, t('activate.too_short'));
    if (fresh.value !== again.value) return refuse(again, t('activate.mismatch'));
    return busy(submit, async () => {
      try {
        await post('/me/password', { current_password: current.value, new_password: fresh.value });
      } catch (err) {
        if (err instanceof ApiError && err.code === 'unauthorized') refuse(current, t('account.current_wrong'));
        else if (err instanceof ApiError && err.code === 'validation') refuse(fresh, t('account.new_refused'));
        else mount(msg, errorBox(err));
        return;
      }
      dlg.close();
      toast(t('account.changed'));
    });
  });
  everywhere.addEventListener('click', () => busy(everywhere, async () => {
    try {
      await post('/auth/logout-all');
    } catch (err) {
      mount(msg, errorBox(err));
      return;
    }
    dlg.close();
    onSignedOutEverywhere();
  }));
  dlg.showModal();
  current.focus();
}
