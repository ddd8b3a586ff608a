// Service worker: keeps the app shell (HTML, CSS, JS, icon) so the talent's card page
// opens with no network. Shell files are fetched network-first so a deploy reaches phones
// at once, and the cached copy answers only when the network fails. API calls are never
// cached here: the page keeps the talent's codes itself (see js/codestore.js).

const CACHE = 'talentcard-shell-v1';
const SHELL = [
  '/',
  '/app.css',
  '/icon.svg',
  '/manifest.json',
  '/js/app.js',
  '/js/api.js',
  '/js/i18n.js',
  '/js/util.js',
  '/js/ui.js',
  '/js/codestore.js',
  '/js/talent.js',
  '/js/counter.js',
  '/js/official.js',
  '/js/officials.js',
  '/js/proposals.js',
  '/js/access.js',
  '/js/charts.js',
  '/js/anomalies.js',
  '/js/apply.js',
  '/js/account.js',
  '/js/activation.js',
  '/js/import.js',
  '/js/actions.js',
  '/js/talents_office.js',
  '/js/ledger.js',
  '/js/search.js',
  '/js/todo.js',
  '/js/trace.js',
  '/js/family.js',
  '/js/family_office.js',
  '/js/owner_offers.js',
  '/js/owner_desk.js',
  '/js/audit_office.js',
  '/js/reports.js',
];

const NOT_SHELL = ['/healthz', '/readyz', '/metrics'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith('/api/') || NOT_SHELL.includes(url.pathname)) return;
  event.respondWith(
    fetch(req)
      .then((res) => {
        if (res.ok) {
          const copy = res.clone();
          caches.open(CACHE).then((c) => c.put(req.mode === 'navigate' ? '/' : req, copy));
        }
        return res;
      })
      .catch(() => caches.match(req.mode === 'navigate' ? '/' : req).then((hit) => hit || Response.error())),
  );
});
