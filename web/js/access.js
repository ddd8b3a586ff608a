// Whether the official face may write. Auditors see the same views with every write
// control left out (not merely disabled); each write control is tagged `data-write` so the
// browser tests can check an auditor's page holds none.

let writable = false;

export function setWritable(v) {
  writable = Boolean(v);
}

export function canWrite() {
  return writable;
}

/** A write control, rendered for administrators only. */
export function w(el) {
  if (!writable) return null;
  el.dataset.write = '';
  return el;
}
