// The JSON API client. Authentication is the HttpOnly `tc_session` cookie the server sets
// at login, so no token is ever visible to (or stored by) this code.

import { t, has } from './i18n.js';

export class ApiError extends Error {
  constructor(status, code, detail, field) {
    super(detail || code);
    this.status = status;
    this.code = code;
    this.detail = detail || '';
    // The request field a `validation` problem names, so the page can show it there.
    this.field = field || '';
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

let onUnauthorized = () => {};
export function setUnauthorizedHandler(f) {
  onUnauthorized = f;
}

export async function api(method, path, body, headers = {}) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json', ...headers } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(`/api/v1${path}`, init);
  } catch {
    setReachable(false);
    throw new ApiError(0, 'network', '');
  }
  setReachable(true);
  if (res.status === 204) return null;
  const type = res.headers.get('content-type') || '';
  const data = type.includes('json') ? await res.json().catch(() => null) : null;
  if (!res.ok) {
    const err = new ApiError(res.status, (data && data.code) || `http_${res.status}`, (data && data.detail) || res.statusText, data && data.field);
    if (res.status === 401 && path !== '/auth/login') onUnauthorized(err);
    throw err;
  }
  return data;
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

/** Headline (localised by problem code where we have one) and the server's detail. */
export function describe(err) {
  if (!(err instanceof ApiError)) return { title: t('err.internal'), detail: String(err && err.message ? err.message : err) };
  let key = `err.${err.code}`;
  if (isPaymentCode(err)) key = 'err.code_invalid_payment';
  if (err.code === 'network') return { title: t('err.network'), detail: '' };
  const title = has(key) ? t(key) : err.status >= 500 ? t('err.internal') : err.detail || err.code;
  const hint = `hint.${key.slice(4)}`;
  if (has(hint)) return { title, detail: t(hint) };
  const detail = err.detail && err.detail !== title ? err.detail : '';
  return { title, detail };
}
