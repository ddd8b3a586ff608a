// The talent's offline snapshot in IndexedDB: the account, the card and the codes fetched
// ahead, so the card page keeps showing a valid code for ≥ 10 minutes without network
// (shops in basements). The codes are short-lived bearer tokens: whoever holds one can
// redeem it once within its window of at most 60 s. That is acceptable to keep on the
// talent's own device for their few minutes of life; expired ones are pruned on every
// save. A logout marks the snapshot signed out (the offline start no longer shows it);
// the same talent signing in again keeps the codes, anyone else's login drops them. No password or session token is stored here —
// the session stays in the HttpOnly cookie.

const DB = 'talentcard';
const STORE = 'offline';
const KEY = 'snapshot';

function open() {
  return new Promise((resolve, reject) => {
    if (!('indexedDB' in window)) {
      reject(new Error('no IndexedDB'));
      return;
    }
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function tx(mode, work) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const t = db.transaction(STORE, mode);
    const req = work(t.objectStore(STORE));
    t.oncomplete = () => { db.close(); resolve(req && req.result); };
    t.onerror = () => { db.close(); reject(t.error); };
  });
}

export async function load() {
  try {
    return (await tx('readonly', (s) => s.get(KEY))) || null;
  } catch {
    return null;
  }
}

export async function save(snapshot) {
  const now = Date.now();
  const codes = (snapshot.codes || []).filter((c) => Date.parse(c.not_after) > now);
  try {
    await tx('readwrite', (s) => s.put({ ...snapshot, codes, saved_at: now }, KEY));
  } catch {
    // Private mode or storage full: codes stay in memory, offline start is not possible.
  }
}

export async function clear() {
  try {
    await tx('readwrite', (s) => s.delete(KEY));
  } catch {
    // Nothing stored.
  }
}

async function mark(signedOut) {
  const snap = await load();
  if (!snap) return;
  try {
    await tx('readwrite', (s) => s.put({ ...snap, signed_out: signedOut }, KEY));
  } catch {
    // Nothing stored.
  }
}

export const signOut = () => mark(true);
export const signIn = () => mark(false);
