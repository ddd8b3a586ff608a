// The audit tab of the officials' face: the chain's verdict, the log with names, and the
// signed checkpoints auditors download, verify offline and witness.

import { h, mount, dateTime } from './util.js';
import { t } from './i18n.js';
import { get, post, list, ApiError, describe } from './api.js';
import { errorBox, alertBox, loading, toast, busy, section, table, pagedList } from './ui.js';
import { w } from './access.js';
import { download } from './actions.js';
import { traceLink, actorLabel, actionLabel, entityWord } from './trace.js';

/** The verdict of `GET /audit/verify`: intact with what it covered, or where it broke. */
function verdict(r) {
  const fb = r.first_broken;
  let title = t('audit.ok');
  if (!r.ok) {
    if (fb && fb.seq !== null && fb.seq !== undefined) title = t('audit.broken', { seq: fb.seq });
    else if (fb && fb.checkpoint !== null && fb.checkpoint !== undefined) title = t('audit.broken_checkpoint', { n: fb.checkpoint });
    else title = t('audit.broken_other');
  }
  const sum = r.ok && r.summary;
  return h('div', { class: ['verdict', r.ok ? 'verdict-ok' : 'verdict-broken'], dataset: { ok: String(r.ok) } },
    h('div', { class: 'verdict-mark', 'aria-hidden': 'true', text: r.ok ? '✓' : '!' }),
    h('div', {},
      h('strong', { class: 'verdict-title', text: title }),
      h('div', { class: 'muted small', text: t('audit.checked', { n: r.checked, u: r.unsealed ?? 0 }) }),
      sum ? h('div', { class: 'small', id: 'audit-summary', text: t('audit.summary', { c: sum.checkpoints, w: sum.witnesses }) }) : null,
      fb && fb.reason ? h('div', { class: 'small', id: 'audit-broken-reason', text: t('audit.reason', { r: fb.reason }) }) : null));
}

export function audit(body, ctx) {
  const result = h('div', { id: 'audit-result', class: 'audit-result' });
  const verify = h('button', { class: 'btn btn-primary', id: 'audit-verify', text: t('audit.verify') });
  verify.addEventListener('click', () => busy(verify, async () => {
    mount(result, loading());
    try {
      mount(result, verdict(await get('/audit/verify')));
    } catch (e) {
      mount(result, errorBox(e));
    }
  }));
  mount(body, h('div', { class: 'page-head' }, h('h1', { text: t('off.tab.audit') })),
    section(null, h('div', { class: 'row' }, verify), result),
    checkpoints(ctx.me.role === 'auditor'),
    section(t('audit.events'), h('div', { id: 'audit-events' }, pagedList('/audit/events', (items) => table([
      { label: t('audit.at'), cell: (e) => dateTime(e.at) },
      { label: t('audit.actor'), cell: (e) => h('strong', { text: actorLabel(e.actor_name || e.actor) }) },
      { label: t('audit.action'), cell: (e) => h('span', { title: e.action, text: actionLabel(e.action) }) },
      { label: t('audit.entity'), cell: (e) => h('span', {}, `${entityWord(e.entity_type)} `,
        e.entity_label ? h('span', { text: e.entity_label }) : h('span', { class: 'mono', text: e.entity_id }),
        e.entity_type === 'redemption' && /^\d+$/.test(e.entity_id) ? [' ', traceLink(e.entity_id)] : null) },
      { label: '#', class: 'num', cell: (e) => (e.seq === null || e.seq === undefined ? '…' : String(e.seq)) },
    ], items, { class: 'table-compact' }), 25))));
}

// The auditor's commands of docs/audit-format.md; commands are not translated.
const CMD_KEYGEN = 'openssl genpkey -algorithm ed25519 -out witness.pem';
const CMD_PUBKEY = 'openssl pkey -in witness.pem -pubout -outform DER | tail -c 32 | base64';
const cmdSign = (n) => `openssl pkeyutl -sign -rawin -inkey witness.pem -in checkpoint-${n}.txt | base64 -w0`;
const CMD_VERIFY = 'talentcard verify-export audit-export-N.jsonl --public-key SERVER_KEY --witness-key YOUR_KEY';

/** A command to copy; a narrow screen wraps it between words only, never inside one. */
function command(text) {
  const words = text.split(' ').map((word) => h('span', { class: 'cmd-word', text: word }));
  return h('pre', { class: 'cmd' }, h('code', {}, words.flatMap((w, i) => (i ? [' ', w] : [w]))));
}

/** Saves `text` as a file, byte for byte (UTF-8, no BOM, nothing appended). */
function saveText(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30000);
}

function checkpointDownload(c) {
  return h('button', {
    class: 'btn btn-ghost btn-sm', type: 'button', text: t('ckpt.download'),
    dataset: { action: 'download-checkpoint' }, onclick: () => saveText(`checkpoint-${c.size}.txt`, c.text),
  });
}

async function copyText(text, node) {
  try {
    await navigator.clipboard.writeText(text);
    toast(t('ckpt.copied'));
  } catch {
    // No clipboard API (a page not served over HTTPS): select the key for Ctrl+C.
    const range = document.createRange();
    range.selectNodeContents(node);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    toast(t('ckpt.copy_failed'), 'error');
  }
}

function serverKey() {
  const box = h('div', { class: 'keybox', id: 'audit-public-key' }, loading());
  get('/audit/public-key').then((k) => {
    const key = h('code', { class: 'mono key-text', id: 'audit-public-key-text', text: k.public_key });
    const copy = h('button', { class: 'btn btn-ghost btn-sm', type: 'button', id: 'audit-key-copy', text: t('ckpt.copy'), onclick: () => copyText(k.public_key, key) });
    mount(box,
      h('div', { class: 'field-label', text: t('ckpt.key') }),
      h('div', { class: 'key-row' }, key, copy),
      h('div', { class: 'muted small mono', text: t('ckpt.key_id', { id: k.key_id }) }),
      h('p', { class: 'small key-why', text: t('ckpt.key_why') }),
      (k.previous || []).length ? h('div', { class: 'muted small' }, t('ckpt.key_previous'),
        h('ul', { class: 'key-previous' }, k.previous.map((p) => h('li', { class: 'mono', text: `${p.key_id}  ${p.public_key}` })))) : null);
  }, (e) => mount(box, errorBox(e)));
  return box;
}

function howTo() {
  return h('details', { class: 'collapsible howto', id: 'witness-howto' },
    h('summary', { text: t('ckpt.howto') }),
    h('p', { class: 'small', text: t('ckpt.howto.1') }), command(CMD_KEYGEN),
    h('p', { class: 'small', text: t('ckpt.howto.2') }), command(CMD_PUBKEY),
    h('p', { class: 'small', text: t('ckpt.howto.3') }), command(cmdSign('N')),
    h('p', { class: 'small muted', text: t('ckpt.howto.note') }),
    h('p', { class: 'small', text: t('ckpt.howto.4') }), command(CMD_VERIFY));
}

// The witness key typed last, offered again for the next checkpoint (this page only).
let lastWitnessKey = '';

/** The witness form for checkpoint `c`, in a dialog; `onDone` after a witness is stored. */
function witnessDialog(c, onDone) {
  const publicKey = h('textarea', { class: 'input mono', id: 'witness-public-key', name: 'public_key', rows: '3', spellcheck: 'false', autocomplete: 'off', value: lastWitnessKey });
  const signature = h('input', { class: 'input mono', id: 'witness-signature', name: 'signature', spellcheck: 'false', autocomplete: 'off' });
  const msgs = { public_key: h('div', { class: 'form-msg', id: 'witness-public-key-msg' }), signature: h('div', { class: 'form-msg', id: 'witness-signature-msg' }) };
  const msg = h('div', { class: 'form-msg', id: 'witness-msg' });
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', id: 'witness-submit', text: t('ckpt.witness_submit') });
  const dlg = h('dialog', { class: 'dialog dialog-wide', id: 'witness-dialog' });
  const labelled = (label, input, hint, box) => h('label', { class: 'field' },
    h('span', { class: 'field-label', text: label }), input, h('span', { class: 'field-hint', text: hint }), box);
  const form = h('form', { class: 'dialog-body', novalidate: true },
    h('h3', { text: t('ckpt.witness_title', { n: c.size }) }),
    h('ol', { class: 'steps' },
      h('li', {}, h('div', { text: t('ckpt.step.download') }), checkpointDownload(c)),
      h('li', {}, h('div', { text: t('ckpt.step.sign') }), command(cmdSign(c.size))),
      h('li', { text: t('ckpt.step.paste') })),
    labelled(t('ckpt.public_key'), publicKey, t('ckpt.public_key_hint'), msgs.public_key),
    labelled(t('ckpt.signature'), signature, t('ckpt.signature_hint'), msgs.signature),
    msg,
    h('div', { class: 'row-end' },
      h('button', { type: 'button', class: 'btn btn-ghost', id: 'witness-close', text: t('close'), onclick: () => dlg.close() }),
      submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    for (const box of [msg, ...Object.values(msgs)]) mount(box);
    busy(submit, async () => {
      try {
        lastWitnessKey = publicKey.value.trim();
        await post(`/audit/checkpoints/${c.size}/witness`, { public_key: publicKey.value.trim(), signature: signature.value.trim() });
        mount(msg, alertBox('ok', t('ckpt.witnessed', { n: c.size })));
        signature.value = '';
        onDone();
      } catch (err) {
        const at = err instanceof ApiError && msgs[err.field];
        if (at) {
          mount(at, alertBox('error', t(`ckpt.bad.${err.field}`), err.detail));
          (err.field === 'signature' ? signature : publicKey).focus();
        } else {
          mount(msg, errorBox(err));
        }
      }
    });
  });
  dlg.append(form);
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  (lastWitnessKey ? signature : publicKey).focus();
}

/** Signed checkpoints, the server's key to pin, and (for auditors) witnessing. */
function checkpoints(isAuditor) {
  const reason = (r) => {
    const key = `ckpt.reason.${r}`;
    return t(key) === key ? r : t(key);
  };
  const list = pagedList('/audit/checkpoints', (items, reload) => table([
    { label: t('ckpt.size'), cell: (c) => h('div', {}, h('strong', { class: 'mono', text: `#${c.size}` }), ' ', h('span', { class: 'muted small', text: t('ckpt.covers', { n: c.size }) })) },
    { label: t('ckpt.signed_at'), cell: (c) => dateTime(c.signed_at) },
    { label: t('ckpt.reason'), cell: (c) => reason(c.reason) },
    { label: t('ckpt.witnesses'), cell: (c) => {
      const n = (c.witnesses || []).length;
      return h('span', { class: ['chip', n ? 'chip-active' : 'chip-pending'], dataset: { witnesses: String(n) }, text: n ? t('ckpt.witness_count', { n }) : t('ckpt.no_witness') });
    } },
    { label: t('actions'), cell: (c) => h('div', { class: 'row-tight' },
      checkpointDownload(c),
      isAuditor ? h('button', { class: 'btn btn-primary btn-sm', type: 'button', text: t('ckpt.witness'), dataset: { action: 'witness' }, onclick: () => witnessDialog(c, reload) }) : null) },
  ], items, { rowData: (c) => ({ size: String(c.size) }) }), 10);
  const sign = h('button', { class: 'btn btn-ghost', type: 'button', id: 'checkpoint-sign', text: t('ckpt.sign') });
  sign.addEventListener('click', () => busy(sign, async () => {
    try {
      const c = await post('/audit/checkpoints');
      toast(t('ckpt.signed', { n: c.size }));
      list.reload();
    } catch (e) {
      toast(describe(e).title, 'error');
    }
  }));
  const exportLink = h('a', { class: 'btn btn-ghost', id: 'audit-export', href: '/api/v1/audit/export', download: '', text: t('ckpt.export') });
  return h('section', { class: 'panel', id: 'audit-checkpoints' },
    h('h2', { class: 'panel-title', text: t('ckpt.title') }),
    h('p', { class: 'small', text: t('ckpt.lead') }),
    serverKey(),
    h('div', { class: 'row' }, sign, exportLink),
    h('p', { class: 'muted small', text: t('ckpt.export_hint') }),
    howTo(),
    list);
}
