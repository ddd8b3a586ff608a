// Boot: language, login, and the face for the logged-in role (talent, counter, official).

import { h, mount } from './util.js';
import { t, lang, setLang } from './i18n.js';
import { get, post, ApiError, isReachable, setSession, setReauthenticator } from './api.js';
import { errorBox, alertBox, busy, field } from './ui.js';
import { signInAgain, openAccount } from './account.js';
import * as store from './codestore.js';

const root = document.getElementById('app');
let me = null;
let dispose = null;
// Renders can overlap (a login and the hash change it causes); only the latest may mount.
let renderSeq = 0;

const FACES = {
  talent: () => import('./talent.js'),
  merchant: () => import('./counter.js'),
  cashier: () => import('./counter.js'),
  admin: () => import('./official.js'),
  auditor: () => import('./official.js'),
};

// Pages with an address of their own, shown whoever is signed in (the server answers them
// with 200; every other unknown address with 404 and the not-found page below).
const PAGES = {
  '/apply': () => import('./apply.js'),
};

function currentTab() {
  return decodeURIComponent(location.hash.replace(/^#\/?/, '')) || '';
}

function applyStaticTexts() {
  document.documentElement.lang = lang() === 'en' ? 'en' : 'zh-CN';
  document.title = t('brand');
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  const user = document.getElementById('user-chip');
  if (me) {
    user.hidden = false;
    mount(user, h('button', {
      type: 'button',
      class: 'user-chip-button',
      id: 'account-open',
      title: t('account.open'),
      onclick: () => { if (me && !me.offline) openAccount(me, signedOut); },
    },
    h('span', { class: 'user-role', text: t(`role.${me.role}`) }),
    h('span', { class: 'user-name', text: me.display_name || me.username }),
    h('span', { class: 'sr-only', text: t('account.open') })));
  } else {
    user.hidden = true;
  }
  document.getElementById('logout').hidden = !me;
}

async function render() {
  const seq = ++renderSeq;
  if (dispose) {
    dispose();
    dispose = null;
  }
  applyStaticTexts();
  const page = PAGES[location.pathname];
  if (page) {
    document.body.dataset.face = 'page';
    const mod = await page();
    if (seq !== renderSeq) return;
    dispose = mod.render(root, { me }) || null;
    return;
  }
  if (!['/', '/index.html'].includes(location.pathname)) {
    // The server answered 404 with the app: say so, and offer the way home.
    document.body.dataset.face = 'not-found';
    mount(root, h('div', { class: 'login-panel panel', id: 'not-found' },
      h('h2', { class: 'panel-title', text: t('notfound.title') }),
      h('p', { text: t('notfound.lead', { path: location.pathname }) }),
      h('p', {}, h('a', { class: 'btn btn-primary', href: '/', text: t('notfound.home') }))));
    return;
  }
  document.body.dataset.face = me ? me.role : 'login';
  if (!me) {
    if (currentTab() === 'activate') renderActivate();
    else renderLogin();
    return;
  }
  const load = FACES[me.role];
  if (!load) {
    mount(root, errorBox(new ApiError(403, 'forbidden', me.role)));
    return;
  }
  const face = await load();
  if (seq !== renderSeq) return;
  dispose = face.render(root, {
    me,
    tab: currentTab(),
    go: (tab) => { location.hash = `#/${tab}`; },
  }) || null;
}

/** The page's side of a session: renewed while in use; officials' end when idle. */
function sessionStarted() {
  setSession({ active: true, idleMinutes: ['admin', 'auditor'].includes(me.role) ? 30 : null });
}

/** Logged in (by login or activation): the face for the account, at its first tab. */
async function enter() {
  me = await get('/me');
  // Another person's offline codes never show here; the same talent keeps theirs.
  const snap = await store.load();
  if (snap && snap.me && snap.me.id !== me.id) await store.clear();
  else await store.signIn();
  sessionStarted();
  location.hash = '';
  await render();
}

/** The session is over (logged out here, everywhere, or refused): back to the login page. */
async function signedOut() {
  setSession({ active: false });
  await store.signOut();
  me = null;
  location.hash = '';
  render();
}

/** The login page's frame: the card picture and title beside `panel`. */
function loginFrame(panel) {
  mount(root,
    h('div', { class: 'login' },
      h('div', { class: 'login-hero' },
        h('div', { class: 'hero-card', 'aria-hidden': 'true' },
          h('div', { class: 'hero-card-brand', text: '遂州英才卡' }),
          h('div', { class: 'hero-card-sub', text: 'SUIZHOU TALENT CARD' }),
          h('div', { class: 'hero-card-chip' }),
          h('div', { class: 'hero-card-no', text: '•••• •••• •••• 2026' })),
        h('h1', { class: 'login-title', text: t('brand') }),
        h('p', { class: 'login-lead', text: t('login.lead') })),
      panel,
      h('p', { class: 'login-footer muted small', text: t('login.footer') })));
}

/** A new or reset official sets their own password with the code an administrator gave them. */
function renderActivate() {
  const username = h('input', { class: 'input', name: 'username', id: 'activate-username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const code = h('input', { class: 'input mono', name: 'activation_code', id: 'activate-code', autocomplete: 'one-time-code', required: true, autocapitalize: 'characters', spellcheck: 'false', placeholder: '7K3D-Q9XM-2HBV-T4RA' });
  const password = h('input', { class: 'input', name: 'new_password', id: 'activate-password', type: 'password', autocomplete: 'new-password', required: true, minlength: '8' });
  const again = h('input', { class: 'input', name: 'new_password_again', id: 'activate-password2', type: 'password', autocomplete: 'new-password', required: true });
  const msg = h('div', { class: 'form-msg' });
  const button = h('button', { class: 'btn btn-primary btn-block', type: 'submit', id: 'activate-submit', text: t('activate.submit') });
  const form = h('form', { class: 'login-form', id: 'activate-form', novalidate: true },
    field(t('activate.username'), username),
    field(t('activate.code'), code, t('activate.code_hint')),
    field(t('activate.password'), password, t('activate.password_hint')),
    field(t('activate.again'), again),
    msg,
    button);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    msg.replaceChildren();
    if (password.value.length < 8) {
      mount(msg, alertBox('error', t('activate.too_short')));
      password.focus();
      return;
    }
    if (password.value !== again.value) {
      mount(msg, alertBox('error', t('activate.mismatch')));
      again.select();
      return;
    }
    busy(button, async () => {
      try {
        await post('/auth/activate', { username: username.value.trim(), activation_code: code.value.trim(), new_password: password.value });
        await enter();
      } catch (err) {
        mount(msg, err instanceof ApiError && err.code === 'unauthorized' ? alertBox('error', t('activate.wrong'), t('activate.wrong_hint')) : errorBox(err));
      }
    });
  });
  loginFrame(h('div', { class: 'login-panel panel' },
    h('h2', { class: 'panel-title', text: t('activate.title') }),
    h('p', { class: 'small', text: t('activate.lead') }),
    form,
    h('p', { class: 'login-alt' }, h('a', { href: '#/', id: 'login-link', text: t('activate.back') }))));
  username.focus();
}

function renderLogin() {
  const username = h('input', { class: 'input', name: 'username', id: 'login-username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { class: 'input', name: 'password', id: 'login-password', type: 'password', autocomplete: 'current-password', required: true });
  const msg = h('div', { class: 'form-msg' });
  const button = h('button', { class: 'btn btn-primary btn-block', type: 'submit', id: 'login-submit', text: t('login.submit') });
  const form = h('form', { class: 'login-form', id: 'login-form', novalidate: true },
    field(t('login.username'), username),
    field(t('login.password'), password),
    msg,
    button);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(button, async () => {
      msg.replaceChildren();
      button.textContent = t('login.busy');
      try {
        await post('/auth/login', { username: username.value.trim(), password: password.value });
        await enter();
      } catch (err) {
        button.textContent = t('login.submit');
        mount(msg, err instanceof ApiError && err.code === 'unauthorized' ? alertBox('error', t('login.wrong')) : errorBox(err));
        password.select();
      }
    });
  });
  loginFrame(h('div', { class: 'login-panel panel' },
    h('h2', { class: 'panel-title', text: t('login.title') }),
    form,
    h('p', { class: 'login-alt' }, h('a', { href: '#/activate', id: 'activate-link', text: t('login.have_code') })),
    h('p', { class: 'login-alt small muted', text: t('account.forgot') }),
    h('div', { class: 'login-apply' },
      h('p', { class: 'login-apply-lead', text: t('apply.login_lead') }),
      h('a', { class: 'btn btn-ghost btn-block', href: '/apply', id: 'apply-link', text: t('apply.link') }))));
  username.focus();
}

async function logout() {
  try {
    await post('/auth/logout');
  } catch {
    // Offline or already logged out: the local state is cleared all the same.
  }
  await signedOut();
}

/** The values typed into the page's named fields (never passwords or files). */
function typedInputs() {
  return [...root.querySelectorAll('input[id], textarea[id], select[id]')]
    .filter((el) => !['password', 'file', 'checkbox', 'radio', 'hidden'].includes(el.type) && el.value)
    .map((el) => [el.id, el.value]);
}

/** Puts typed values back into the fields of the same id once the face has drawn them. */
function restoreInputs(typed, tries = 20) {
  const left = typed.filter(([id, value]) => {
    const el = document.getElementById(id);
    if (!el) return true;
    if (!el.value) {
      el.value = value;
      el.dispatchEvent(new Event('input', { bubbles: true }));
    }
    return false;
  });
  if (left.length && tries > 0) setTimeout(() => restoreInputs(left, tries - 1), 50);
}

function updateOnline() {
  const online = navigator.onLine && isReachable();
  document.getElementById('offline-badge').hidden = online;
  document.body.classList.toggle('is-offline', !online);
}

async function boot() {
  setLang(lang());
  document.getElementById('lang-toggle').addEventListener('click', async () => {
    // The face is drawn again in the other language; what was typed (a scanned code, a
    // bill, a half-filled form) is carried over.
    const typed = typedInputs();
    setLang(lang() === 'en' ? 'zh' : 'en');
    await render();
    restoreInputs(typed);
  });
  document.getElementById('logout').addEventListener('click', logout);
  window.addEventListener('online', updateOnline);
  window.addEventListener('offline', updateOnline);
  window.addEventListener('tc-reachability', updateOnline);
  // Logged out, the hash switches between the login and the activation form.
  window.addEventListener('hashchange', () => render());
  updateOnline();
  // A session that could not be renewed: the same person signs in over the page and
  // carries on; leaving (or another person signing in) ends the page's work.
  setReauthenticator(async () => {
    if (!me || me.offline) return false;
    const again = await signInAgain(me, () => enter());
    if (again) sessionStarted();
    else if (me) await signedOut();
    return again;
  });
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/sw.js').catch(() => {
      // Without a service worker the app still works online; only the offline copy is lost.
    });
  }
  try {
    // An expired access token is renewed here from the refresh cookie, so a talent's
    // phone opens straight onto the card for weeks.
    me = await get('/me');
    sessionStarted();
  } catch (err) {
    me = null;
    if (err instanceof ApiError && err.code === 'network') {
      // Offline start: a talent can still show the codes fetched ahead of time.
      const snap = await store.load();
      if (snap && snap.me && !snap.signed_out) me = { ...snap.me, offline: true };
    }
  }
  await render();
}

boot();
