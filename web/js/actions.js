// Buttons the official face's sections share: a step that posts (asking for a reason
// when it needs one), a download link, and a fresh activation code for a forgotten
// password. Write controls go through `w`, so an auditor never sees them.

import { h } from './util.js';
import { t } from './i18n.js';
import { post, describe } from './api.js';
import { toast, askText, busy } from './ui.js';
import { w } from './access.js';
import { showActivationFor } from './activation.js';
import { refreshTodo } from './todo.js';

/** A button that asks for a reason (or note) and posts it; `fields` shapes the body. */
export function actionButton(label, path, { ask, askTitle, body = {}, onDone, cls = 'btn-ghost', key = 'reason' } = {}) {
  const b = h('button', { class: `btn btn-sm ${cls}`, text: label, dataset: { action: path.split('/').pop() } });
  b.addEventListener('click', async () => {
    let payload = { ...body };
    if (ask) {
      const answer = await askText({ title: askTitle || label, label: ask });
      if (!answer) return;
      payload[key] = answer.text;
    }
    await busy(b, async () => {
      try {
        const res = await post(path, payload);
        toast(t('appr.done'));
        if (onDone) onDone(res);
        refreshTodo();
      } catch (e) {
        // Our words for a known refusal (anomaly_hold, four_eyes…), then the server's detail.
        const { title, detail } = describe(e);
        toast(detail ? `${title} ${detail}` : title, 'error');
      }
    });
  });
  return w(b);
}

export function download(href, label) {
  return h('a', { class: 'btn btn-ghost btn-sm', href, download: '', text: label });
}

/** A forgotten password: a fresh activation code from `path` (the old one dies). */
export function codeButton(path, name) {
  const b = w(h('button', { class: 'btn btn-ghost btn-sm', type: 'button', dataset: { action: 'activation' }, text: t('t.new_code') }));
  if (!b) return null;
  b.addEventListener('click', () => busy(b, async () => {
    try {
      const issued = await post(path);
      showActivationFor(issued, issued.username, name);
    } catch (e) {
      toast(e);
    }
  }));
  return b;
}
