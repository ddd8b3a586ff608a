// The JSON API client. Authentication is the HttpOnly `tc_session` cookie the server sets
// at login (renewed with the HttpOnly `tc_refresh` cookie), so no token is ever visible
// to (or stored by) this code.

import { t, has, lang } from './i18n.js';

export class ApiError extends Error {
  constructor(status, code, detail, field, reason) {
    super(detail || code);
    this.status = status;
    this.code = code;
    this.detail = detail || '';
    // The request field a `validation` problem names, so the page can show it there.
    this.field = field || '';
    // An official's reason for the decision behind the refusal, as they wrote it.
    this.reason = reason || '';
  }

  /** True when the endpoint itself is missing (not built or not enabled on this server). */
  get missing() {
    return this.status === 404 || this.status === 405;
  }
}

// Whether the server answered the last request. navigator.onLine alone misses the common
// case of a phone with a signal icon but no route to the server (a shop in a basement).
let reachable = true;
function setReachable(v) {
  if (v === reachable) return;
  reachable = v;
  window.dispatchEvent(new Event('tc-reachability'));
}
export function isReachable() {
  return reachable;
}

// Sessions (DESIGN §4/§5): access tokens last minutes; the page renews its session with
// the HttpOnly refresh cookie while it is in use, so nobody is sent to the login page
// mid-shift. When a renewal is refused, `reauthenticate` (set by the app) asks for the
// password over the page, keeping everything typed, and the request goes on.
const RENEW_AFTER_MS = 5 * 60 * 1000;
let signedIn = false;
// Officials' sessions end after 30 idle minutes: a page left open must not keep one alive.
let idleLimitMs = Infinity;
let lastActivity = Date.now();
let lastRenewal = Date.now();
let renewal = null;
let reauthenticate = async () => false;

/** What the app tells the client about the session: signed in or not, and the idle limit. */
export function setSession({ active, idleMinutes = null }) {
  signedIn = active;
  idleLimitMs = idleMinutes ? idleMinutes * 60 * 1000 : Infinity;
  lastRenewal = Date.now();
  lastActivity = Date.now();
}

export function setReauthenticator(f) {
  reauthenticate = f;
}

function idle() {
  return Date.now() - lastActivity > idleLimitMs;
}

/** Renews the session once, however many requests ask at the same moment. */
export function renew() {
  if (!renewal) {
    renewal = fetch('/api/v1/auth/refresh', { method: 'POST', credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then((res) => {
        if (res.ok) lastRenewal = Date.now();
        return res.ok;
      })
      .catch(() => false)
      .finally(() => { renewal = null; });
  }
  return renewal;
}

// Work at the page keeps the session alive: a renewal every few minutes of use (this
// also moves an official's idle limit, which counts from the last renewal).
function noteActivity() {
  lastActivity = Date.now();
  if (signedIn && Date.now() - lastRenewal > RENEW_AFTER_MS) renew();
}
for (const type of ['pointerdown', 'keydown']) window.addEventListener(type, noteActivity, { capture: true, passive: true });

// A download link is a plain navigation that cannot renew on a 401: renew first when the
// access token may have run out (it lasts 15 minutes).
const DOWNLOAD_FRESH_MS = 10 * 60 * 1000;
document.addEventListener('click', async (e) => {
  const link = e.target instanceof Element && e.target.closest('a[download]');
  if (!link || !signedIn || Date.now() - lastRenewal < DOWNLOAD_FRESH_MS) return;
  e.preventDefault();
  if (await renew()) link.click();
});

// These answer 401 for a wrong password or code, not for an ended session.
const OWN_401 = ['/auth/login', '/auth/refresh', '/auth/activate', '/me/password'];

export async function api(method, path, body, headers = {}) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json', ...headers } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res = await send(path, init);
  if (res.status === 401 && !OWN_401.includes(path)) {
    // Renewed (or signed in again over the page), the same request goes once more —
    // with the same Idempotency-Key, so a redemption is never made twice.
    // A logout whose session cannot be renewed is over already: no password asked.
    const again = (!idle() && await renew()) || (signedIn && path !== '/auth/logout' && await reauthenticate());
    if (again) res = await send(path, init);
  }
  if (res.status === 204) return null;
  const type = res.headers.get('content-type') || '';
  const data = type.includes('json') ? await res.json().catch(() => null) : null;
  if (!res.ok) {
    throw new ApiError(res.status, (data && data.code) || `http_${res.status}`, (data && data.detail) || res.statusText, data && data.field, data && data.reason);
  }
  return data;
}

async function send(path, init) {
  try {
    const res = await fetch(`/api/v1${path}`, init);
    setReachable(true);
    return res;
  } catch {
    setReachable(false);
    throw new ApiError(0, 'network', '');
  }
}

export const get = (path) => api('GET', path);
export const post = (path, body = {}, headers) => api('POST', path, body, headers);
export const put = (path, body) => api('PUT', path, body);

/** A list endpoint; a missing endpoint answers an empty list marked `unavailable`. */
export async function list(path) {
  try {
    const page = await get(path);
    if (Array.isArray(page)) return { items: page, total: page.length, page: 1, per_page: page.length };
    return { items: [], total: 0, page: 1, per_page: 50, ...page };
  } catch (e) {
    if (e instanceof ApiError && e.missing && e.code !== 'forbidden') {
      return { items: [], total: 0, page: 1, per_page: 50, unavailable: true };
    }
    throw e;
  }
}

/** Whether a refusal of a scanned code is about a payment code (WeChat/Alipay/UnionPay). */
export function isPaymentCode(err) {
  return err.code === 'code_invalid' && /payment|付款|支付/i.test(err.detail || '');
}

/**
 * Headline and detail of a refusal, in the page's language: by problem `code`, and for a
 * `validation` problem by the `field` it names. The server's own `detail` is English; it
 * is shown only on the English pages, never inside the Chinese ones.
 */
export function describe(err) {
  if (!(err instanceof ApiError)) return { title: t('err.internal'), detail: String(err && err.message ? err.message : err) };
  if (err.code === 'network') return { title: t('err.network'), detail: '' };
  const english = lang() === 'en';
  const serverDetail = (title) => (english && err.detail && err.detail !== title ? err.detail : '');
  if (err.code === 'validation' && err.field) {
    const label = has(`field.${err.field}`) ? t(`field.${err.field}`) : err.field;
    const title = t('err.validation_field', { field: label });
    const hint = `hint.field.${err.field}`;
    return { title, detail: has(hint) ? t(hint) : serverDetail(title), field: err.field };
  }
  let key = `err.${err.code}`;
  if (isPaymentCode(err)) key = 'err.code_invalid_payment';
  const title = has(key) ? t(key) : err.status >= 500 ? t('err.internal') : t('err.other');
  const hint = `hint.${key.slice(4)}`;
  // A person's reason is theirs to read whatever the page's language.
  const reason = err.reason ? `${t('err.reason')}: ${err.reason}` : '';
  const detail = [reason, has(hint) ? t(hint) : serverDetail(title)].filter(Boolean).join('\n');
  return { title, detail };
}

/**
 * A file the session may read (the printed card's SVG), as a Blob. Like `api`, a 401
 * renews the session (or asks for the password over the page) and asks once more.
 */
export async function fetchFile(path) {
  const init = { method: 'GET', credentials: 'same-origin', headers: { Accept: '*/*' } };
  let res = await send(path, init);
  if (res.status === 401) {
    const again = (!idle() && await renew()) || (signedIn && await reauthenticate());
    if (again) res = await send(path, init);
  }
  if (!res.ok) {
    const data = (res.headers.get('content-type') || '').includes('json') ? await res.json().catch(() => null) : null;
    throw new ApiError(res.status, (data && data.code) || `http_${res.status}`, (data && data.detail) || res.statusText, data && data.field, data && data.reason);
  }
  return res.blob();
}
