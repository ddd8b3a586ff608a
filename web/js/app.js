// Boot: language, login, and the face for the logged-in role (talent, counter, official).

import { h, mount } from './util.js';
import { t, lang, setLang } from './i18n.js';
import { get, post, ApiError, setUnauthorizedHandler, isReachable } from './api.js';
import { errorBox, alertBox, busy, field } from './ui.js';
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
    mount(user, h('span', { class: 'user-role', text: t(`role.${me.role}`) }), h('span', { class: 'user-name', text: me.display_name || me.username }));
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

/** Logged in (by login or activation): the face for the account, at its first tab. */
async function enter() {
  me = await get('/me');
  location.hash = '';
  await render();
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
  await store.clear();
  me = null;
  location.hash = '';
  render();
}

function updateOnline() {
  const online = navigator.onLine && isReachable();
  document.getElementById('offline-badge').hidden = online;
  document.body.classList.toggle('is-offline', !online);
}

async function boot() {
  setLang(lang());
  document.getElementById('lang-toggle').addEventListener('click', () => {
    setLang(lang() === 'en' ? 'zh' : 'en');
    render();
  });
  document.getElementById('logout').addEventListener('click', logout);
  window.addEventListener('online', updateOnline);
  window.addEventListener('offline', updateOnline);
  window.addEventListener('tc-reachability', updateOnline);
  // Logged out, the hash switches between the login and the activation form.
  window.addEventListener('hashchange', () => render());
  updateOnline();
  setUnauthorizedHandler(async () => {
    if (!me) return;
    await store.clear();
    me = null;
    render();
  });
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/sw.js').catch(() => {
      // Without a service worker the app still works online; only the offline copy is lost.
    });
  }
  try {
    me = await get('/me');
  } catch (err) {
    me = null;
    if (err instanceof ApiError && err.code === 'network') {
      // Offline start: a talent can still show the codes fetched ahead of time.
      const snap = await store.load();
      if (snap && snap.me) me = { ...snap.me, offline: true };
    }
  }
  await render();
}

boot();
