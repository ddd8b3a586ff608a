// The public merchant application page (/apply, DESIGN §5): a shop applies to join the
// alliance without an account. Each field is checked as it is typed by the same rules the
// server applies (src/merchants/domain.rs, src/users/mod.rs, src/text.rs); the server's
// answer stays the authority, and its refusals are shown next to the field they name, in
// the reader's language. No password is asked: the owner sets one with the activation
// code the approving official hands over.
//
// What was typed lives in this module, not in the DOM, so switching the language (which
// re-renders the page) keeps it; nothing of it is ever stored in the browser.

import { h, mount } from './util.js';
import { t, lang, has } from './i18n.js';
import { get, post, ApiError } from './api.js';
import { alertBox, errorBox, busy, chip } from './ui.js';

// ---- The server's rules, as the page applies them while typing ----

/** `char::is_whitespace` (Unicode White_Space), which Rust's `str::trim` strips. */
const WS = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const TRIM = new RegExp(`^[${WS}]+|[${WS}]+$`, 'g');
const ALL_WS = new RegExp(`[${WS}]`, 'g');
const LEADING_WS = new RegExp(`^[${WS}]+`);

/** Rust's `str::trim`: unlike JavaScript's, it keeps U+FEFF. */
function rustTrim(s) {
  return s.replace(TRIM, '');
}

function codePoints(s) {
  return [...s];
}

/** How many characters `str::trim` takes off the front. */
function leadingSpace(s) {
  const m = LEADING_WS.exec(s);
  return m ? codePoints(m[0]).length : 0;
}

/**
 * The 1-based position of the first character the server refuses in this kind of text
 * (src/text.rs `Policy`; `required_text` adds `char::is_control`, i.e. C1 controls too).
 */
function firstRefused(s, { display = false, c1 = false } = {}) {
  const chars = codePoints(s);
  for (let i = 0; i < chars.length; i += 1) {
    const c = chars[i].codePointAt(0);
    const refused = c <= 0x1f || c === 0x7f
      || (c1 && c >= 0x80 && c <= 0x9f)
      || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)
      || (display && ((c >= 0x200b && c <= 0x200d) || c === 0x2060 || c === 0xfeff));
    if (refused) return i + 1;
  }
  return 0;
}

/** A full-width form (Ｕ+FF01–FF5E, 　) of an ASCII character: a Chinese IME left in 全角. */
function isFullWidth(c) {
  const n = c.codePointAt(0);
  return (n >= 0xff01 && n <= 0xff5e) || n === 0x3000;
}

function err(key, vars, final = true) {
  return { key: `apply.e.${key}`, vars, final };
}

/** A character the field cannot take: named, with the 全角 hint where that is the cause. */
function foreignChar(c, key) {
  return isFullWidth(c) ? err('fullwidth', { c }) : err(key, { c });
}

/**
 * `required_text(field, raw, max)` behind a `SingleLine` or `DisplayName`: the text
 * policy holds for all of it, `char::is_control` (C1 controls too) only once trimmed —
 * U+0085 is both white space and a control.
 */
function requiredText(max, display) {
  return (raw) => {
    const pos = firstRefused(raw, { display });
    if (pos) return err('bad_char', { pos });
    const text = rustTrim(raw);
    if (!text) return err('required', undefined, false);
    const n = codePoints(text).length;
    if (n > max) return err('too_long', { max, n });
    const c1 = firstRefused(text, { c1: true });
    if (c1) return err('bad_char', { pos: c1 + leadingSpace(raw) });
    return null;
  };
}

/** GB 32100-2015 §5 alphabet (a character's value is its index) and §6.2 weights. */
const USCC_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/** `Uscc::parse`: 18 characters of the alphabet in either case, the last the check character. */
function uscc(raw) {
  if (firstRefused(raw)) return err('bad_char', { pos: firstRefused(raw) });
  const code = rustTrim(raw).replace(/[a-z]/g, (c) => c.toUpperCase());
  const chars = codePoints(code);
  if (!chars.length) return err('required', undefined, false);
  const bad = chars.find((c) => !USCC_ALPHABET.includes(c));
  if (bad) return foreignChar(bad, 'uscc_char');
  if (chars.length !== 18) return err('uscc_length', { n: chars.length }, chars.length > 18);
  let sum = 0;
  for (let i = 0; i < 17; i += 1) sum += USCC_ALPHABET.indexOf(chars[i]) * USCC_WEIGHTS[i];
  if (chars[17] !== USCC_ALPHABET[(31 - (sum % 31)) % 31]) return err('uscc_check');
  return null;
}

/** `parse_phone`: 7–15 digits among '-', '+' and spaces, at most 20 characters. */
function phone(raw) {
  if (firstRefused(raw)) return err('bad_char', { pos: firstRefused(raw) });
  const p = rustTrim(raw);
  if (!p) return err('required', undefined, false);
  const bad = codePoints(p).find((c) => !/[0-9+\- ]/.test(c));
  if (bad) return foreignChar(bad, 'phone_char');
  const digits = p.replace(/[^0-9]/g, '').length;
  if (digits < 7) return err('phone_digits', { n: digits }, false);
  if (digits > 15) return err('phone_digits', { n: digits });
  if (p.length > 20) return err('phone_long');
  return null;
}

/** `parse_bank_account`: 8–30 digits once white space is dropped. */
function bankAccount(raw) {
  if (firstRefused(raw)) return err('bad_char', { pos: firstRefused(raw) });
  const account = raw.replace(ALL_WS, '');
  if (!account) return err('required', undefined, false);
  const bad = codePoints(account).find((c) => !/[0-9]/.test(c));
  if (bad) return foreignChar(bad, 'bank_char');
  if (account.length < 8) return err('bank_length', { n: account.length }, false);
  if (account.length > 30) return err('bank_length', { n: account.length });
  return null;
}

/** `is_phone_shaped`: `^(\+?86)?1[3-9][0-9]{9}$` once spaces and dashes are removed. */
export function isPhoneShaped(raw) {
  let s = rustTrim(raw).replace(/[ -]/g, '');
  if (s.startsWith('+86')) s = s.slice(3);
  else if (s.startsWith('86') && s.length === 13) s = s.slice(2);
  return /^1[3-9][0-9]{9}$/.test(s);
}

/** `Username::parse`: not phone-shaped; 3–64 of letters, digits, `_ . @ -` (case-folded). */
function username(raw) {
  if (firstRefused(raw)) return err('bad_char', { pos: firstRefused(raw) });
  if (isPhoneShaped(raw)) return err('username_phone');
  // JavaScript's and Rust's lower-casing agree where it matters (K, the Kelvin sign, is k).
  const name = rustTrim(raw).toLowerCase();
  const chars = codePoints(name);
  if (!chars.length) return err('required', undefined, false);
  const bad = chars.find((c) => !/[a-z0-9_.@-]/.test(c));
  if (bad) return foreignChar(bad, 'username_char');
  if (chars.length < 3) return err('username_length', { n: chars.length }, false);
  if (chars.length > 64) return err('username_length', { n: chars.length });
  return null;
}

function chosen(raw) {
  return raw ? null : err('choose', undefined, false);
}

const CATEGORIES = ['clothing', 'food', 'housing', 'transport', 'medical', 'education', 'leisure', 'other'];

/** The form, in sections (RULES is exported for the test that holds them to the server's); `rule` returns null or `{key, vars, final}` (final: more typing cannot fix it). */
const SECTIONS = [
  ['business', [
    { name: 'name', rule: requiredText(100, true), attrs: { autocomplete: 'organization' } },
    { name: 'uscc', rule: uscc, attrs: { class: 'input mono', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false' } },
    { name: 'category', rule: chosen, select: 'category' },
    { name: 'district', rule: chosen, select: 'district' },
    { name: 'address', rule: requiredText(200), attrs: { autocomplete: 'street-address' }, wide: true },
  ]],
  ['contact', [
    { name: 'contact_name', rule: requiredText(50), attrs: { autocomplete: 'name' } },
    { name: 'contact_phone', rule: phone, attrs: { type: 'tel', inputmode: 'tel', autocomplete: 'tel' } },
  ]],
  ['bank', [
    { name: 'bank_name', rule: requiredText(100), attrs: { autocomplete: 'off' } },
    { name: 'bank_account', rule: bankAccount, attrs: { class: 'input mono', inputmode: 'numeric', autocomplete: 'off' } },
  ]],
  ['owner', [
    // No password: the owner sets their own with the activation code the approving
    // official hands over (DESIGN §10), so it is never typed on a shared shop computer.
    { name: 'owner_username', rule: username, attrs: { autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false' }, wide: true },
  ]],
];
const FIELDS = SECTIONS.flatMap(([, fields]) => fields);
export const RULES = Object.fromEntries(FIELDS.map((f) => [f.name, f.rule]));
/** The fields sent to the server: all of them. */
const SENT = FIELDS.map((f) => f.name);

// ---- State: survives re-renders (the language switch), never leaves the page ----

const state = {
  values: Object.fromEntries(FIELDS.map((f) => [f.name, ''])),
  /** The person has typed in the field. */
  dirty: {},
  /** The message shown under each field: `{key, vars}` or absent. */
  shown: {},
  /** Server refusals by field: `[{value, error}]`, shown whenever the field holds that value again. */
  refused: {},
  /** A message for the whole form: `{key, vars}` or `{err}`. */
  formError: null,
  districts: null,
  districtsError: null,
  /** The created application, once submitted. */
  result: null,
};

/** Elements of the current render. */
let view = null;

function districtLabel(d) {
  const key = `apply.district.${d}`;
  return lang() === 'en' && has(key) ? `${d} · ${t(key)}` : d;
}

function districtOptions() {
  if (state.districtsError) return [h('option', { value: '', text: t('apply.districts_failed') })];
  if (!state.districts) return [h('option', { value: '', text: t('apply.districts_loading') })];
  return [
    h('option', { value: '', text: t('apply.choose') }),
    ...state.districts.map((d) => h('option', { value: d, text: districtLabel(d), selected: d === state.values.district })),
  ];
}

function control(f) {
  const id = `apply-${f.name}`;
  const described = [has(`apply.h.${f.name}`) ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(' ');
  const common = { id, name: f.name, required: true, 'aria-describedby': described };
  if (f.select === 'category') {
    return h('select', { ...common, class: 'input select' },
      h('option', { value: '', text: t('apply.choose') }),
      CATEGORIES.map((c) => h('option', { value: c, text: t(`apply.cat.${c}`), selected: c === state.values.category })));
  }
  if (f.select === 'district') {
    return h('select', { ...common, class: 'input select', disabled: !state.districts }, districtOptions());
  }
  return h('input', { class: 'input', type: 'text', ...common, ...f.attrs, value: state.values[f.name] });
}

function fieldBox(f) {
  const input = control(f);
  const id = input.id;
  const hint = has(`apply.h.${f.name}`) ? h('p', { class: 'field-hint', id: `${id}-hint`, text: t(`apply.h.${f.name}`) }) : null;
  const error = h('p', { class: 'field-error', id: `${id}-error` });
  const box = h('div', { class: ['field', 'apply-field', f.wide && 'field-wide'], dataset: { field: f.name } },
    h('label', { class: 'field-label', for: id, text: t(`apply.f.${f.name}`) }),
    input,
    // Right under the field, before the hint: the first thing read after the value.
    error,
    hint);
  const onChange = (mode) => {
    state.values[f.name] = input.value;
    if (mode === 'input') state.dirty[f.name] = true;
    check(f.name, mode);
    if (state.formError && state.formError.key === 'apply.s.fix_marked' && !FIELDS.some((x) => state.shown[x.name])) {
      state.formError = null;
      showFormError();
    }
  };
  input.addEventListener('input', () => onChange('input'));
  input.addEventListener('change', () => onChange('input'));
  input.addEventListener('blur', () => onChange('blur'));
  return { box, input, error };
}

/**
 * Decides what to show under `name` for its current value. `mode`: `input` (typing: a
 * final error, or the update of one already shown), `blur` (leaving a field typed in) or
 * `submit` (everything).
 */
function check(name, mode) {
  const value = state.values[name];
  const refused = refusal(name, value);
  let msg = null;
  if (refused) {
    msg = refused;
  } else {
    const e = RULES[name](value);
    if (e && (mode === 'submit' || e.final || state.shown[name] || (mode === 'blur' && (state.dirty[name] || value !== '')))) msg = e;
  }
  if (msg) state.shown[name] = { key: msg.key, vars: msg.vars };
  else delete state.shown[name];
  showFieldError(name);
  return !RULES[name](value) && !refused;
}

/** The server's refusal of exactly this value of the field, if it gave one. */
function refusal(name, value) {
  const hit = (state.refused[name] || []).find((r) => r.value === value);
  return hit ? hit.error : null;
}

function refuse(name, error) {
  state.refused[name] = [...(state.refused[name] || []), { value: state.values[name], error }];
}

function showFieldError(name) {
  if (!view) return;
  const { input, error } = view.fields[name];
  const msg = state.shown[name];
  error.textContent = msg ? t(msg.key, msg.vars) : '';
  if (msg) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
  view.fields[name].box.classList.toggle('is-invalid', Boolean(msg));
}

function showFormError() {
  if (!view) return;
  const e = state.formError;
  if (!e) {
    view.formMsg.replaceChildren();
  } else if (e.err) {
    mount(view.formMsg, errorBox(e.err));
  } else {
    mount(view.formMsg, alertBox('error', t(e.key, e.vars), e.hint ? t(e.hint) : undefined));
  }
}

function focusField(name) {
  const el = view && view.fields[name] && view.fields[name].input;
  if (!el) return;
  el.focus({ preventScroll: true });
  el.scrollIntoView({ block: 'center' });
}

function body() {
  const out = {};
  for (const name of SENT) out[name] = state.values[name];
  return out;
}

/** Places the server's refusal: next to the field it names, or above the button. */
function placeRefusal(e) {
  const field = e instanceof ApiError && SENT.includes(e.field) ? e.field : null;
  if (!(e instanceof ApiError) || e.code === 'network' || e.status >= 500) {
    state.formError = { err: e };
    return null;
  }
  if (e.status === 422 && field) {
    // The page's own message where its rule sees the fault; else the field's rule in words.
    const local = RULES[field](state.values[field]);
    const error = local || { key: has(`apply.s.${field}`) ? `apply.s.${field}` : 'apply.s.invalid' };
    refuse(field, error);
    state.formError = { key: 'apply.s.fix_marked' };
    return field;
  }
  if (e.status === 409 && field) {
    const key = field === 'uscc' ? 'apply.s.uscc_taken' : field === 'owner_username' ? 'apply.s.username_taken' : 'apply.s.conflict';
    refuse(field, { key });
    state.formError = { key: 'apply.s.fix_marked' };
    return field;
  }
  if (e.status === 429) {
    // The wait is the only part of the server's sentence worth keeping.
    const m = /(\d+)\s*minute/.exec(e.detail || '');
    state.formError = m
      ? { key: 'apply.s.rate_limited', vars: { n: m[1] }, hint: 'apply.s.rate_hint' }
      : { key: 'apply.s.rate_limited_later', hint: 'apply.s.rate_hint' };
    return null;
  }
  if (e.status === 401) {
    state.formError = { key: 'apply.s.stale_login' };
    return null;
  }
  state.formError = { key: e.status === 409 ? 'apply.s.conflict' : e.status === 422 ? 'err.validation' : 'apply.s.failed' };
  return null;
}

async function submit(button) {
  const bad = FIELDS.filter((f) => !check(f.name, 'submit')).map((f) => f.name);
  if (bad.length) {
    state.formError = { key: 'apply.s.fix_marked' };
    showFormError();
    focusField(bad[0]);
    return;
  }
  state.formError = null;
  showFormError();
  await busy(button, async () => {
    button.textContent = t('apply.busy');
    try {
      const record = await post('/merchants', body());
      state.result = { id: record.id, name: record.name, status: record.status, username: rustTrim(state.values.owner_username).toLowerCase() };
      draw();
      window.scrollTo(0, 0);
      // Screen readers hear the outcome; the form it replaced is gone.
      const title = document.getElementById('apply-done-title');
      if (title) title.focus({ preventScroll: true });
    } catch (e) {
      button.textContent = t('apply.submit');
      const field = placeRefusal(e);
      if (field) check(field, 'submit');
      showFormError();
      // (A 401 re-renders the page meanwhile: there may be no view to point at yet.)
      if (field) focusField(field);
      else if (view) view.formMsg.scrollIntoView({ block: 'center' });
    }
  });
}

let districtsLoading = null;

async function loadDistricts() {
  if (districtsLoading) return districtsLoading;
  state.districtsError = null;
  districtsLoading = get('/districts').then((res) => {
    state.districts = (res && res.items) || [];
  }, (e) => {
    state.districtsError = e;
  });
  await districtsLoading;
  districtsLoading = null;
  if (!view) return;
  const select = view.fields.district.input;
  mount(select, districtOptions());
  select.disabled = !state.districts;
  mount(view.districtMsg, state.districtsError ? districtFailure() : null);
}

function districtFailure() {
  return h('div', { class: 'row apply-retry' },
    h('span', { class: 'field-error', text: t('apply.districts_failed') }),
    h('button', { type: 'button', class: 'btn btn-ghost btn-sm', text: t('retry'), onclick: () => loadDistricts() }));
}

function backLink(me) {
  return h('a', { href: '/', id: 'apply-back', text: `← ${t(me ? 'apply.back_home' : 'apply.back')}` });
}

function drawForm(me) {
  const fields = {};
  const sections = SECTIONS.map(([id, list]) => h('fieldset', { class: 'apply-section', id: `apply-sec-${id}` },
    h('legend', { class: 'apply-legend', text: t(`apply.sec.${id}`) }),
    has(`apply.sec.${id}_lead`) ? h('p', { class: 'apply-section-lead', text: t(`apply.sec.${id}_lead`) }) : null,
    h('div', { class: 'apply-grid' }, list.map((f) => {
      fields[f.name] = fieldBox(f);
      return fields[f.name].box;
    }))));
  const districtMsg = h('div', { class: 'apply-district-msg' }, state.districtsError ? districtFailure() : null);
  fields.district.box.append(districtMsg);
  const formMsg = h('div', { class: 'form-msg', id: 'apply-form-msg' });
  const button = h('button', { class: 'btn btn-primary btn-lg apply-submit', type: 'submit', id: 'apply-submit', text: t('apply.submit') });
  const form = h('form', { class: 'panel apply-form', id: 'apply-form', novalidate: true },
    h('p', { class: 'apply-required', text: t('apply.required_note') }),
    sections,
    formMsg,
    button);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submit(button);
  });
  view = { fields, formMsg, districtMsg };
  return [
    me ? alertBox('warn', t('apply.signed_in', { name: me.display_name || me.username })) : null,
    form,
  ];
}

function drawDone(me) {
  const r = state.result;
  return h('section', { class: 'panel apply-done', id: 'apply-done' },
    h('div', { class: 'apply-done-mark', 'aria-hidden': 'true', text: '✓' }),
    h('h2', { class: 'apply-done-title', id: 'apply-done-title', tabindex: '-1', text: t('apply.done.title') }),
    h('dl', { class: 'apply-facts' },
      h('dt', { text: t('apply.done.number') }), h('dd', { class: 'apply-number', id: 'apply-number', text: String(r.id) }),
      h('dt', { text: t('apply.done.name') }), h('dd', { text: r.name }),
      h('dt', { text: t('apply.done.owner') }), h('dd', { class: 'mono', text: r.username }),
      h('dt', { text: t('apply.done.status') }), h('dd', {}, chip(r.status))),
    h('p', { class: 'apply-done-next', text: t('apply.done.next', { username: r.username }) }),
    h('p', { class: 'apply-done-keep', text: t('apply.done.keep') }),
    h('p', {}, h('a', { class: 'btn btn-primary', href: '/', id: 'apply-login', text: t(me ? 'apply.back_home' : 'apply.done.login') })));
}

let root = null;
let current = null;

function draw() {
  const me = current;
  document.title = `${t('apply.title')} · ${t('brand')}`;
  view = null;
  mount(root, h('div', { class: 'apply' },
    h('p', { class: 'apply-back' }, backLink(me)),
    h('header', { class: 'apply-head' },
      h('h1', { class: 'apply-title', text: t('apply.title') }),
      state.result ? null : h('p', { class: 'apply-lead', text: t('apply.lead') })),
    state.result ? drawDone(me) : drawForm(me)));
  if (view) {
    for (const f of FIELDS) showFieldError(f.name);
    showFormError();
  }
}

/** Renders the page into `el`; `me` is the signed-in account, if any. */
export function render(el, { me }) {
  root = el;
  current = me || null;
  draw();
  if (!state.result && !state.districts) loadDistricts();
  return () => { view = null; };
}
