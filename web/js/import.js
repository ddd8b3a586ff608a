// Importing the talent list (administrators only, DESIGN §10). The talent office gets
// its talents as a spreadsheet from the human-resources bureau; this page takes an
// official through it in the order the server works: the template, the file and what
// the import may do, a check that writes nothing and shows every fault row by row, then
// the import as a job whose progress is followed, the activation letters (once, within
// 24 hours) and, when the bureau's list is the truth, the talents it left out, suspended
// in one confirmed step.
//
// The job being followed is remembered for this browser tab (its id only), so an
// official who looks at another tab meanwhile comes back to it and its letters.

import { h, mount, dateTime } from './util.js';
import { t, lang, locale } from './i18n.js';
import { get, post, upload, fetchFile, ApiError } from './api.js';
import { alertBox, errorBox, busy, section, table, toast, askConfirm, chip } from './ui.js';

const BASE = '/talents/import';
const POLL_MS = 500;
// More rows than this make a page nobody reads: the rest are counted, and the file is
// checked again once the first ones are corrected.
const SHOWN_ROWS = 300;
const OPTIONS = ['update_existing', 'skip_invalid', 'sync'];

/** What the page holds while it is open (a re-render, the language switch, keeps it). */
const state = {
  file: null,
  options: { update_existing: false, skip_invalid: false, sync: false },
  report: null,
  /** The options the report was made with. */
  checkedWith: null,
  /** Talents suspended from this job's missing list, by id. */
  suspended: new Set(),
  /** Letters taken on this page: `{filename, at}`. */
  letters: null,
};

let me = null;
let root = null;
let pollTimer = null;

const n = (x) => Number(x || 0).toLocaleString(locale());

function storeKey() {
  return `tc_import_job:${me ? me.id : ''}`;
}

function rememberJob(id) {
  try {
    if (id) sessionStorage.setItem(storeKey(), id);
    else sessionStorage.removeItem(storeKey());
  } catch {
    // Storage refused (a private window): the job is still followed while the page stays.
  }
}

function rememberedJob() {
  try {
    return sessionStorage.getItem(storeKey());
  } catch {
    return null;
  }
}

function stopPolling() {
  clearTimeout(pollTimer);
  pollTimer = null;
}

/** The import tab of the official face. */
export function importView(body, ctx) {
  me = ctx.me;
  root = body;
  stopPolling();
  const job = rememberedJob();
  if (job) {
    showJob(job, { resume: true });
  } else {
    showForm();
  }
}

function head() {
  return h('div', { class: 'page-head' },
    h('div', {},
      h('h1', { text: t('import.title') }),
      h('p', { class: 'import-lead', text: t('import.lead') })));
}

// ---- Step 1 and 2: the file and the options, then the check ----

function showForm() {
  stopPolling();
  const template = h('a', { class: 'btn btn-ghost', id: 'import-template', href: `/api/v1${BASE}/template`, download: '', text: t('import.template') });
  // The browser's own file control speaks the browser's language and looks like no
  // other button here: it stays (for the keyboard and screen readers) under a button
  // of the page, in the page's language, with the chosen file named beside it.
  const file = h('input', { class: 'import-file-input', type: 'file', name: 'file', id: 'import-file', 'aria-describedby': 'import-file-hint import-chosen', accept: '.xlsx,.xls,.csv,.txt,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,application/vnd.ms-excel,text/csv' });
  const pick = h('label', { class: 'btn btn-ghost btn-lg import-file-button', for: 'import-file' });
  const chosen = h('span', { class: 'import-chosen', id: 'import-chosen' });
  const showChosen = () => {
    pick.textContent = t(state.file ? 'import.choose_other' : 'import.choose');
    chosen.textContent = state.file ? t('import.chosen', { name: state.file.name, size: sizeText(state.file.size) }) : t('import.none_chosen');
    chosen.classList.toggle('is-chosen', Boolean(state.file));
  };
  showChosen();
  const boxes = Object.fromEntries(OPTIONS.map((o) => [o, h('input', { type: 'checkbox', name: o, id: `import-${o.replace('_', '-')}`, checked: state.options[o], 'aria-describedby': `import-${o}-hint` })]));
  const option = (o) => h('div', { class: 'import-option' },
    h('label', { class: 'check import-check' }, boxes[o], h('span', { text: t(`import.opt.${o}`) })),
    h('p', { class: 'field-hint import-option-hint', id: `import-${o}-hint`, text: t(`import.opt.${o}_hint`) }));
  const check = h('button', { class: 'btn btn-primary btn-lg', type: 'submit', id: 'import-check', text: t('import.check') });
  const msg = h('div', { class: 'form-msg', id: 'import-msg', 'aria-live': 'polite' });
  const report = h('div', { id: 'import-report' });
  const form = h('form', { class: 'import-form', id: 'import-form', novalidate: true },
    h('div', { class: 'field import-file' },
      h('span', { class: 'field-label', text: t('import.file') }),
      h('div', { class: 'import-file-row' }, file, pick, chosen),
      h('span', { class: 'field-hint', id: 'import-file-hint', text: t('import.file_hint') })),
    h('fieldset', { class: 'import-options' },
      h('legend', { class: 'field-label', text: t('import.options') }),
      OPTIONS.map(option)),
    msg,
    check);

  const run = () => busy(check, async () => {
    mount(msg);
    if (!state.file) {
      mount(msg, alertBox('error', t('import.no_file')));
      file.focus();
      return;
    }
    check.textContent = t('import.checking');
    mount(report, h('div', { class: 'loading', text: t('import.checking_long') }));
    const checking = state.file;
    const sent = { ...state.options };
    // The page may have been drawn again meanwhile (the language switch): the answer
    // goes to the report box on screen, not to the one this check began in.
    const box = (id) => document.getElementById(id) || (id === 'import-report' ? report : msg);
    try {
      const answer = await upload(`${BASE}?${query(true)}`, formData());
      // Another file was chosen meanwhile: this answer is about the old one.
      if (state.file !== checking) return;
      state.report = answer;
      state.checkedWith = sent;
      drawReport(box('import-report'));
      // An option changed while the file was being checked: check it again for it.
      if (OPTIONS.some((o) => state.options[o] !== sent[o])) setTimeout(run, 0);
      else box('import-report').scrollIntoView({ block: 'start' });
    } catch (err) {
      if (state.file !== checking) return;
      state.report = null;
      mount(box('import-report'));
      mount(box('import-msg'), errorBox(err));
    } finally {
      check.textContent = t('import.check');
    }
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    run();
  });
  file.addEventListener('change', () => {
    state.file = file.files && file.files[0] ? file.files[0] : null;
    state.report = null;
    mount(report);
    mount(msg);
    showChosen();
  });
  for (const o of OPTIONS) {
    boxes[o].addEventListener('change', () => {
      state.options[o] = boxes[o].checked;
      // What the import would do has changed: the report is made again for it.
      if (state.report) run();
    });
  }

  mount(root, head(),
    section(t('import.step1'),
      h('p', { class: 'import-text', text: t('import.step1_lead') }),
      h('ul', { class: 'import-columns' },
        ['name', 'id_number', 'phone', 'tier'].map((c) => h('li', {}, h('strong', { text: t(`import.col.${c}`) }), ` ${t('import.required')}`)),
        ['employer', 'valid_until'].map((c) => h('li', {}, h('strong', { text: t(`import.col.${c}`) }), ` ${t('import.optional')}`))),
      h('p', { class: 'small import-text', text: t('import.step1_excel') }),
      h('div', { class: 'row' }, template)),
    section(t('import.step2'), form),
    report);
  if (state.report) drawReport(report);
}

function sizeText(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function query(dryRun, options = state.options) {
  const q = new URLSearchParams({ dry_run: String(dryRun) });
  for (const o of OPTIONS) if (options[o]) q.set(o, 'true');
  return q.toString();
}

function formData() {
  const form = new FormData();
  form.append('file', state.file, state.file.name);
  return form;
}

/** The message of a row error in the page's language. */
function rowMessage(e) {
  return lang() === 'en' ? e.message_en || e.message : e.message;
}

function columnLabel(field) {
  return field ? t(`import.col.${field}`) : '';
}

/** "B 列 · 身份证号" / "Column B · ID number"; the whole row when no column is named. */
function cellLabel(column, fieldName) {
  if (!column) return t('import.whole_row');
  return [t('import.column', { c: column }), columnLabel(fieldName)].filter(Boolean).join(' · ');
}

function rowsWithErrors(r) {
  return r.rows - r.ok;
}

function counts(r, id) {
  const items = [
    ['rows', r.rows], ['ok', r.ok], ['new', r.new], ['unchanged', r.unchanged],
    ['changed', r.changed.length], ['errors', rowsWithErrors(r)],
  ];
  return h('div', { class: 'stats import-stats', id },
    items.map(([k, v]) => h('div', { class: ['stat', k === 'errors' && v > 0 && 'stat-bad', k === 'new' && 'stat-accent'], dataset: { count: k } },
      h('div', { class: 'stat-label', text: t(`import.count.${k}`) }),
      h('div', { class: 'stat-value', text: n(v) }))));
}

function headerProblems(r) {
  if (!r.header_problems.length) return null;
  return h('div', { class: 'import-block', id: 'import-header-problems' },
    h('h3', { text: t('import.header_problems') }),
    h('ul', { class: 'import-list' }, r.header_problems.map((p) => h('li', {
      dataset: { code: p.code },
      text: t(`import.hp.${p.code}`, { column: p.column || '', header: p.header }),
    }))),
    h('p', { class: 'small import-text', text: t('import.header_help') }));
}

function readInfo(r) {
  const parts = [t(`import.format.${r.format}`)];
  if (r.sheet) parts.push(t('import.sheet', { sheet: r.sheet }));
  if (r.header_row) parts.push(t('import.header_row', { row: r.header_row }));
  if (r.columns.length) parts.push(t('import.columns_found', { list: r.columns.map((c) => `${c.column} ${columnLabel(c.field)}`).join(t('import.sep')) }));
  if (r.ignored_columns.length) parts.push(t('import.ignored', { list: r.ignored_columns.join(t('import.sep')) }));
  return h('p', { class: 'small muted import-read', id: 'import-read', text: parts.join(t('import.sentence_sep')) });
}

function more(total) {
  return total > SHOWN_ROWS ? h('p', { class: 'small muted', text: t('import.more', { n: n(total - SHOWN_ROWS) }) }) : null;
}

function errorsTable(errors) {
  if (!errors.length) return null;
  return h('div', { class: 'import-block', id: 'import-errors' },
    h('h3', { text: t('import.errors_title', { n: n(errors.length) }) }),
    table([
      { label: t('import.row'), cell: (e) => h('strong', { text: String(e.row) }) },
      { label: t('import.where'), cell: (e) => cellLabel(e.column, e.field) },
      { label: t('import.problem'), cell: (e) => h('span', { class: 'import-message', text: rowMessage(e) }) },
    ], errors.slice(0, SHOWN_ROWS), { class: 'import-table', rowData: (e) => ({ row: String(e.row), code: e.code }) }),
    more(errors.length));
}

function duplicatesTable(dups) {
  if (!dups.length) return null;
  return h('div', { class: 'import-block', id: 'import-duplicates' },
    h('h3', { text: t('import.dups_title', { n: n(dups.length) }) }),
    h('p', { class: 'small import-text', text: t('import.dups_lead') }),
    table([
      { label: t('import.col.id_number'), cell: (d) => h('span', { class: 'mono', text: d.id_number_masked }) },
      { label: t('import.rows'), cell: (d) => d.rows.join(t('import.sep')) },
    ], dups.slice(0, SHOWN_ROWS), { class: 'import-table' }),
    more(dups.length));
}

function changeValue(fieldName, v) {
  if (fieldName === 'tier' && /^[A-E]$/.test(v || '')) return t(`tier.${v}`);
  return v === '' || v === null || v === undefined ? t('import.blank') : String(v);
}

function changedTable(changed) {
  if (!changed.length) return null;
  const applied = changed.some((c) => c.applied);
  return h('div', { class: 'import-block', id: 'import-changed' },
    h('h3', { text: t('import.changed_title', { n: n(changed.length) }) }),
    h('p', { class: 'small import-text', text: t(applied ? 'import.changed_applied' : 'import.changed_not_applied') }),
    table([
      { label: t('import.row'), cell: (c) => String(c.row) },
      { label: t('import.col.name'), cell: (c) => h('strong', { text: c.name }) },
      { label: t('import.changes'), cell: (c) => h('ul', { class: 'import-changes' }, c.changes.map((x) => h('li', {},
        h('span', { class: 'import-change-field', text: `${columnLabel(x.field)}${t('import.colon')}` }),
        h('span', { class: 'import-from', text: changeValue(x.field, x.from) }),
        h('span', { class: 'import-arrow', 'aria-hidden': 'true', text: ' → ' }),
        h('span', { class: 'sr-only', text: t('import.to') }),
        h('strong', { class: 'import-to', text: changeValue(x.field, x.to) })))) },
      { label: t('import.applied'), cell: (c) => h('span', { class: ['chip', c.applied ? 'chip-active' : 'chip-pending'], text: t(c.applied ? 'import.will_update' : 'import.not_updated') }) },
    ], changed.slice(0, SHOWN_ROWS), { class: 'import-table', rowData: (c) => ({ row: String(c.row) }) }),
    more(changed.length));
}

function missingPreview(missing) {
  if (!missing) return null;
  return h('div', { class: 'import-block', id: 'import-missing-preview' },
    h('h3', { text: t('import.missing_title', { n: n(missing.length) }) }),
    missing.length
      ? [h('p', { class: 'small import-text', text: t('import.missing_preview') }), missingRows(missing.slice(0, SHOWN_ROWS)), more(missing.length)]
      : h('p', { class: 'small import-text', text: t('import.missing_none') }));
}

function missingRows(items, select) {
  const cols = [
    { label: t('import.col.name'), cell: (m) => h('strong', { text: m.name }) },
    { label: t('import.col.id_number'), cell: (m) => h('span', { class: 'mono', text: m.id_number_masked }) },
    { label: t('import.col.tier'), cell: (m) => t(`tier.${m.tier}`) },
    { label: t('card.no'), cell: (m) => h('span', { class: 'mono', text: m.card_no }) },
  ];
  if (select) cols.unshift({ label: t('import.select'), class: 'import-pick', cell: select });
  return table(cols, items, { class: 'import-table', rowData: (m) => ({ talent: String(m.talent_id) }) });
}

/** What starting the import would do, and the button, or why it cannot start yet. */
function startBlock(r) {
  const bad = rowsWithErrors(r);
  const updates = r.changed.filter((c) => c.applied).length;
  if (r.header_problems.length) {
    return alertBox('error', t('import.verdict.header'), t('import.verdict.header_hint'));
  }
  // The import does what the report on screen says: the options it was made with.
  const options = state.checkedWith || state.options;
  if (bad > 0 && !options.skip_invalid) {
    return alertBox('error', t('import.verdict.errors', { n: n(bad), rows: n(r.rows) }), t('import.verdict.errors_hint', { ok: n(r.ok) }));
  }
  const nothing = r.new === 0 && updates === 0 && !r.missing;
  const plan = [t('import.plan.new', { n: n(r.new) })];
  if (updates) plan.push(t('import.plan.update', { n: n(updates) }));
  if (bad) plan.push(t('import.plan.skip', { n: n(bad) }));
  if (r.missing) plan.push(t('import.plan.missing'));
  const planText = `${plan.join(t('import.sep_sentence'))}${t('import.plan_end')}`;
  const start = h('button', { class: 'btn btn-primary btn-lg', type: 'button', id: 'import-start', text: t('import.start') });
  const msg = h('div', { class: 'form-msg', id: 'import-start-msg' });
  start.addEventListener('click', () => busy(start, async () => {
    mount(msg);
    try {
      const started = await upload(`${BASE}?${query(false, options)}`, formData());
      state.suspended = new Set();
      state.letters = null;
      rememberJob(started.job_id);
      showJob(started.job_id, {});
      window.scrollTo(0, 0);
    } catch (err) {
      mount(msg, errorBox(err));
    }
  }));
  return h('div', { class: 'import-start' },
    nothing
      ? alertBox('warn', t('import.verdict.nothing'))
      : alertBox(bad ? 'warn' : 'ok', bad ? t('import.verdict.skip', { n: n(bad) }) : t('import.verdict.ok'), planText),
    msg,
    nothing ? null : h('div', { class: 'row' }, start, h('span', { class: 'small muted', text: t('import.start_hint') })));
}

function drawReport(box) {
  const r = state.report;
  if (!r) {
    mount(box);
    return;
  }
  mount(box, h('section', { class: 'panel import-report', 'aria-labelledby': 'import-report-title' },
    h('h2', { class: 'panel-title', id: 'import-report-title', text: t('import.report_title', { name: state.file ? state.file.name : '' }) }),
    readInfo(r),
    // With the headers not understood no row was read: counts of nothing would mislead.
    r.header_problems.length ? null : counts(r, 'import-counts'),
    headerProblems(r),
    errorsTable(r.errors),
    duplicatesTable(r.duplicates),
    changedTable(r.changed),
    missingPreview(r.missing),
    startBlock(r)));
}

// ---- Step 3: the job ----

function showJob(id, { resume }) {
  stopPolling();
  const box = h('section', { class: 'panel import-job', id: 'import-job', dataset: { job: id }, 'aria-labelledby': 'import-job-title' },
    h('h2', { class: 'panel-title', id: 'import-job-title', text: t('import.job_title') }),
    h('div', { class: 'loading', text: t('loading') }));
  mount(root, head(), box);
  let view = null;
  let failures = 0;
  const tick = async () => {
    if (!box.isConnected) return;
    let job;
    try {
      job = await get(`${BASE}/${encodeURIComponent(id)}`);
      failures = 0;
    } catch (err) {
      if (!box.isConnected) return;
      if (err instanceof ApiError && err.status === 404) {
        // A job this server no longer knows: start afresh.
        rememberJob(null);
        showForm();
        return;
      }
      failures += 1;
      if (view) view.note(errorBox(err));
      else mount(box, errorBox(err));
      pollTimer = setTimeout(tick, Math.min(10000, POLL_MS * 2 ** failures));
      return;
    }
    if (!box.isConnected) return;
    if (resume && !view && job.status === 'done' && !job.letters_url && !(job.report && job.report.missing && job.report.missing.length)) {
      // Nothing left to do on the last import: the form, for the next file.
      rememberJob(null);
      showForm();
      return;
    }
    if (!view) view = jobView(box, id);
    view.update(job);
    if (job.status === 'running') pollTimer = setTimeout(tick, POLL_MS);
  };
  tick();
}

/** The job's panel: drawn once, then updated in place at each poll. */
function jobView(box, id) {
  const bar = h('progress', { class: 'import-progress', id: 'import-progress', max: '1', value: '0', 'aria-labelledby': 'import-progress-text' });
  const text = h('p', { class: 'import-progress-text', id: 'import-progress-text', 'aria-live': 'polite' });
  const note = h('div', { class: 'import-note' });
  const running = h('p', { class: 'small import-text', id: 'import-running-hint', text: t('import.running_hint') });
  const outcome = h('div', { id: 'import-outcome' });
  const again = h('button', { class: 'btn btn-ghost', type: 'button', id: 'import-another', text: t('import.another') });
  again.addEventListener('click', async () => {
    if (lettersWaiting && !(await askConfirm({ title: t('import.leave_title'), lead: t('import.leave_lead'), ok: t('import.leave_ok'), danger: true, id: 'import-leave-dialog' }))) return;
    rememberJob(null);
    state.report = null;
    state.file = null;
    state.letters = null;
    showForm();
  });
  mount(box,
    h('h2', { class: 'panel-title', id: 'import-job-title', text: t('import.job_title') }),
    h('div', { class: 'import-progress-box' }, bar, text),
    running,
    note,
    outcome,
    h('div', { class: 'row import-again' }, again));
  let drawn = null;
  let lettersWaiting = false;
  return {
    note: (node) => mount(note, node),
    update(job) {
      mount(note);
      const total = Math.max(0, job.total);
      bar.max = String(Math.max(1, total));
      bar.value = String(Math.min(job.processed, Math.max(1, total)));
      if (total === 0 && job.status !== 'running') bar.value = bar.max;
      const pct = total ? Math.floor((job.processed / total) * 100) : job.status === 'running' ? 0 : 100;
      text.textContent = t(`import.progress.${job.status}`, { done: n(job.processed), total: n(total), pct });
      box.dataset.status = job.status;
      // Another file only once this one has ended.
      running.hidden = job.status !== 'running';
      again.hidden = job.status === 'running';
      lettersWaiting = Boolean(job.letters_url) && !state.letters;
      // The outcome is drawn when the status changes, not at every poll.
      const key = `${job.status}:${job.letters_url ? 1 : 0}`;
      if (job.status === 'running' || key === drawn) return;
      drawn = key;
      mount(outcome, job.status === 'failed' ? failed(job, id) : done(job, id, () => { lettersWaiting = false; }));
    },
  };
}

function failed(job, id) {
  const retry = h('button', { class: 'btn btn-primary btn-lg', type: 'button', id: 'import-retry', text: t('import.retry') });
  const msg = h('div', { class: 'form-msg' });
  retry.addEventListener('click', () => busy(retry, async () => {
    mount(msg);
    try {
      await post(`${BASE}/${encodeURIComponent(id)}/retry`);
      showJob(id, {});
    } catch (err) {
      mount(msg, errorBox(err));
    }
  }));
  // The server's reason is English: shown as it is on the English page only.
  const reason = lang() === 'en' && job.failure ? job.failure : '';
  return h('div', { class: 'import-failed', id: 'import-failed' },
    alertBox('error', t('import.failed', { done: n(job.processed), total: n(job.total) }), [reason, t('import.failed_hint')].filter(Boolean).join('\n')),
    msg,
    h('div', { class: 'row' }, retry));
}

function done(job, id, onLetters) {
  const r = job.report || {};
  const skipped = (r.rows || 0) - (r.ok || 0);
  return h('div', { class: 'import-done', id: 'import-done' },
    alertBox('ok', t('import.done'), t('import.done_detail')),
    h('div', { class: 'stats import-stats import-stats-3' },
      h('div', { class: 'stat stat-accent', id: 'import-created', dataset: { count: 'created' } },
        h('div', { class: 'stat-label', text: t('import.count.created') }), h('div', { class: 'stat-value', text: n(job.created) })),
      h('div', { class: 'stat', id: 'import-updated', dataset: { count: 'updated' } },
        h('div', { class: 'stat-label', text: t('import.count.updated') }), h('div', { class: 'stat-value', text: n(job.updated) })),
      h('div', { class: ['stat', skipped > 0 && 'stat-bad'], id: 'import-skipped', dataset: { count: 'skipped' } },
        h('div', { class: 'stat-label', text: t('import.count.skipped') }), h('div', { class: 'stat-value', text: n(skipped) }))),
    letters(job, onLetters),
    skipped > 0 && r.errors ? h('details', { class: 'collapsible import-skipped' },
      h('summary', { text: t('import.skipped_rows', { n: n(skipped) }) }),
      errorsTable(r.errors)) : null,
    r.missing ? missingStep(r.missing, id) : null);
}

/** The activation letters: prominent while they can be taken, then gone. */
function letters(job, onLetters) {
  const box = h('div', { class: 'import-letters', id: 'import-letters' });
  // Once taken (or gone), a plain notice where the letters were.
  const settled = (...children) => {
    box.classList.add('is-settled');
    mount(box, ...children);
  };
  if (state.letters) {
    settled(alertBox('ok', t('import.letters_taken', { name: state.letters.filename }), t('import.letters_keep')));
    return box;
  }
  if (!job.letters_url) {
    if (job.created > 0) settled(alertBox('warn', t('import.letters_gone'), t('import.letters_gone_hint')));
    return box;
  }
  const button = h('button', { class: 'btn btn-primary btn-xl', type: 'button', id: 'import-letters-download', dataset: { href: job.letters_url }, text: t('import.letters_download', { n: n(job.created) }) });
  const msg = h('div', { class: 'form-msg' });
  button.addEventListener('click', () => busy(button, async () => {
    mount(msg);
    try {
      const file = await fetchFile(job.letters_url.replace(/^\/api\/v1/, ''));
      save(file.blob, file.filename);
      state.letters = { filename: file.filename };
      onLetters();
      settled(alertBox('ok', t('import.letters_taken', { name: file.filename }), t('import.letters_keep')));
    } catch (err) {
      if (err instanceof ApiError && err.code === 'letters_gone') {
        onLetters();
        settled(errorBox(err));
      } else {
        mount(msg, errorBox(err));
      }
    }
  }));
  mount(box,
    h('h3', { class: 'import-letters-title', text: t('import.letters_title') }),
    h('p', { class: 'import-text', text: t('import.letters_what') }),
    alertBox('warn', t('import.letters_once', { at: dateTime(job.letters_expire_at) }), t('import.letters_safe')),
    msg,
    button);
  return box;
}

function save(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** The talents the bureau's list left out: chosen one by one, suspended in one confirmed step. */
function missingStep(missing, id) {
  const box = h('section', { class: 'import-block import-missing', id: 'import-missing', 'aria-labelledby': 'import-missing-title' });
  const title = h('h3', { id: 'import-missing-title', text: t('import.missing_title', { n: n(missing.length) }) });
  if (!missing.length) {
    mount(box, title, h('p', { class: 'small import-text', text: t('import.missing_none') }));
    return box;
  }
  const open = missing.filter((m) => !state.suspended.has(m.talent_id));
  const picks = new Map();
  const suspend = h('button', { class: 'btn btn-danger', type: 'button', id: 'import-suspend', disabled: true });
  const all = h('input', { type: 'checkbox', id: 'import-missing-all' });
  const msg = h('div', { class: 'form-msg', id: 'import-suspend-msg' });
  const refresh = () => {
    const k = [...picks.values()].filter((c) => c.checked).length;
    suspend.disabled = k === 0;
    suspend.textContent = k ? t('import.suspend_n', { n: n(k) }) : t('import.suspend');
    all.checked = k > 0 && k === picks.size;
    all.indeterminate = k > 0 && k < picks.size;
  };
  const select = (m) => {
    if (state.suspended.has(m.talent_id)) return chip('suspended');
    const c = h('input', { type: 'checkbox', name: 'talent_ids', value: String(m.talent_id), 'aria-label': t('import.select_one', { name: m.name }) });
    c.addEventListener('change', refresh);
    picks.set(m.talent_id, c);
    // A finger-sized target around the small box.
    return h('label', { class: 'import-pick-box' }, c);
  };
  all.addEventListener('change', () => {
    for (const c of picks.values()) c.checked = all.checked;
    refresh();
  });
  suspend.addEventListener('click', async () => {
    const ids = [...picks].filter(([, c]) => c.checked).map(([talentId]) => talentId);
    if (!ids.length) return;
    const ok = await askConfirm({
      title: t('import.confirm_title', { n: n(ids.length) }),
      lead: t('import.confirm_lead'),
      ok: t('import.suspend_n', { n: n(ids.length) }),
      danger: true,
      id: 'import-confirm-dialog',
    });
    if (!ok) return;
    await busy(suspend, async () => {
      mount(msg);
      try {
        const res = await post(`${BASE}/${encodeURIComponent(id)}/suspend-missing`, { talent_ids: ids });
        for (const s of res.suspended || []) state.suspended.add(s.talent_id);
        toast(t('import.suspended', { n: n((res.suspended || []).length) }));
        box.replaceWith(missingStep(missing, id));
      } catch (err) {
        mount(msg, errorBox(err));
      }
    });
  });
  mount(box,
    title,
    h('p', { class: 'import-text', text: t('import.missing_lead') }),
    open.length ? h('label', { class: 'check import-all' }, all, h('span', { text: t('import.select_all', { n: n(open.length) }) })) : null,
    missingRows(missing, select),
    msg,
    open.length ? h('div', { class: 'row' }, suspend) : alertBox('ok', t('import.missing_done')));
  refresh();
  return box;
}
