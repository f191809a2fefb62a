/*! coi-serviceworker for pff: cross-origin isolation on static hosts that cannot set headers,
 * and the bundled site offline after the first visit.
 * The isolation follows gzuidhof/coi-serviceworker (MIT). The same file is
 *  - in a page (loaded by <script src="coi-serviceworker.js">, first in <head>): if the page
 *    is not cross-origin isolated, it registers itself as a service worker and reloads the page
 *    once that worker controls it (at most once per tab session, so it can never loop); once
 *    the page is isolated and has loaded, it asks the worker to cache the rest of what the site
 *    needs offline, and sets `window.pffOffline` to {files} (or {error}) when that is done;
 *  - in the service worker: it answers same-origin fetches with the COOP / COEP / CORP headers
 *    that make the page cross-origin isolated (SharedArrayBuffer, and so the threaded
 *    WebAssembly build). The files of the bundle (FILES, written by `pff bundle` with their
 *    sha256) are answered from the Cache API when they are there and cached when they are
 *    fetched, each checked against its sha256 first. A new bundle brings a new FILES and so a
 *    new worker; files whose sha256 did not change are carried over from the previous cache and
 *    never downloaded again.
 * Where service workers are unavailable (insecure context, private modes) it does nothing and
 * the page runs its single-thread build, online.
 * Type-checked with the page (tests/e2e/tsconfig.json): the service worker's types are declared
 * below, since one program cannot have both the DOM's and a worker's global types.
 */
// @ts-check
'use strict';

/** @typedef {Event & {waitUntil(promise: Promise<unknown>): void}} ExtendableEvent */
/** @typedef {ExtendableEvent & {request: Request, respondWith(response: Response | Promise<Response>): void}} FetchEvent */
/** @typedef {ExtendableEvent & {data: any, source: {postMessage(message: unknown): void} | null}} ExtendableMessageEvent */
/**
 * What this script uses of a service worker's global scope.
 * @typedef {{registration: ServiceWorkerRegistration, location: Location, skipWaiting(): Promise<void>,
 *   clients: {claim(): Promise<void>}, addEventListener(type: string, listener: (event: Event) => void): void}} WorkerScope
 */
/** A bundle file's entry: its sha256, and whether it is cached ahead for offline use. @typedef {{sha256: string, warm: boolean}} BundleFile */

if (typeof window === 'undefined') {
  // ---- Service worker ----
  const scope = /** @type {WorkerScope} */ (/** @type {unknown} */ (self));
  /** path (relative to the site root) -> {sha256, warm}: written by `pff bundle`. @type {Record<string, BundleFile>} */
  const FILES = /* pff-bundle:files */ {};
  const CACHE = 'pff-' + /* pff-bundle:version */ 'unversioned';

  const root = () => new URL(scope.registration.scope);

  /** The bundle file `url` names (`index.html` for the root), or null. @param {string} url */
  const fileOf = (url) => {
    const u = new URL(url);
    const base = root();
    if (u.origin !== base.origin || !u.pathname.startsWith(base.pathname)) return null;
    let rel;
    try {
      rel = decodeURIComponent(u.pathname.slice(base.pathname.length));
    } catch (_) {
      return null;
    }
    if (rel === '' || rel.endsWith('/')) rel += 'index.html';
    return Object.prototype.hasOwnProperty.call(FILES, rel) ? rel : null;
  };
  const keyOf = (/** @type {string} */ rel) => new URL(rel, root()).href;

  const isolate = (/** @type {Headers} */ headers) => {
    headers.set('Cross-Origin-Opener-Policy', 'same-origin');
    headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
    headers.set('Cross-Origin-Resource-Policy', 'same-origin');
    return headers;
  };

  const sha256 = async (/** @type {ArrayBuffer} */ buffer) => {
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', buffer));
    return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
  };

  /** A bundle file from the network, checked against its sha256, ready to cache. @param {string} rel */
  const download = async (rel) => {
    const response = await fetch(keyOf(rel), { cache: 'no-cache' });
    if (!response.ok) throw new Error(`${rel}: HTTP ${response.status}`);
    const body = await response.arrayBuffer();
    if ((await sha256(body)) !== FILES[rel].sha256) throw new Error(`${rel}: not the file this bundle lists (sha256 differs)`);
    const headers = isolate(new Headers(response.headers));
    headers.delete('Content-Encoding');
    headers.delete('Content-Length');
    headers.set('X-Pff-Sha256', FILES[rel].sha256);
    return new Response(body, { status: 200, statusText: 'OK', headers });
  };

  /** A bundle file: from this version's cache, else from an older one with the same bytes. @param {string} rel */
  const fromCache = async (rel) => {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(keyOf(rel));
    if (hit) return hit;
    for (const name of await caches.keys()) {
      if (name === CACHE || !name.startsWith('pff-')) continue;
      const old = await (await caches.open(name)).match(keyOf(rel));
      if (old && old.headers.get('X-Pff-Sha256') === FILES[rel].sha256) {
        await cache.put(keyOf(rel), old.clone());
        return old;
      }
    }
    return null;
  };

  const bundleFile = async (/** @type {string} */ rel) => {
    const hit = await fromCache(rel);
    if (hit) return hit;
    const fresh = await download(rel);
    await (await caches.open(CACHE)).put(keyOf(rel), fresh.clone());
    return fresh;
  };

  /** Caches every file the site needs offline: the page, the wasm builds, the default model, its data. */
  const warm = async () => {
    const wanted = Object.keys(FILES).filter((rel) => FILES[rel].warm);
    for (const rel of wanted) await bundleFile(rel);
    return wanted.length;
  };

  const passThrough = (/** @type {Request} */ request) =>
    fetch(request).then((response) => {
      // Opaque responses and redirects cannot be rebuilt.
      if (response.status === 0 || response.type === 'opaqueredirect') return response;
      return new Response(response.body, {
        status: response.status,
        statusText: response.statusText,
        headers: isolate(new Headers(response.headers)),
      });
    });

  /** This script itself, as the page loads it: cached at install (it is this version). */
  const selfCopy = async () => {
    const response = await fetch(scope.location.href, { cache: 'no-cache' });
    if (!response.ok) throw new Error(`${scope.location.href}: HTTP ${response.status}`);
    const body = await response.arrayBuffer();
    const cache = await caches.open(CACHE);
    await cache.put(scope.location.href, new Response(body, { status: 200, headers: isolate(new Headers({ 'Content-Type': 'text/javascript' })) }));
  };

  scope.addEventListener('install', (e) => {
    const event = /** @type {ExtendableEvent} */ (e);
    // carry the unchanged files over from the previous version (no network), keep a copy of
    // this script for offline page loads, then take over
    const carried = Promise.all(Object.keys(FILES).map((rel) => fromCache(rel).catch(() => null)));
    event.waitUntil(Promise.all([carried, selfCopy().catch(() => null)]).then(() => scope.skipWaiting()));
  });
  scope.addEventListener('activate', (e) => {
    const event = /** @type {ExtendableEvent} */ (e);
    const stale = caches.keys().then((names) => Promise.all(names.filter((n) => n.startsWith('pff-') && n !== CACHE).map((n) => caches.delete(n))));
    event.waitUntil(stale.then(() => scope.clients.claim()));
  });
  scope.addEventListener('message', (e) => {
    const event = /** @type {ExtendableMessageEvent} */ (e);
    if (!event.data || event.data.type !== 'pff-warm') return;
    const reply = (/** @type {unknown} */ message) => event.source && event.source.postMessage(message);
    event.waitUntil(
      warm().then(
        (files) => reply({ type: 'pff-warmed', files }),
        (e) => reply({ type: 'pff-warm-failed', error: String(e) }),
      ),
    );
  });

  scope.addEventListener('fetch', (e) => {
    const event = /** @type {FetchEvent} */ (e);
    const request = event.request;
    // Such requests throw when fetched from a worker: let the browser handle them.
    if (request.cache === 'only-if-cached' && request.mode !== 'same-origin') return;
    // Only our own files get the headers; other origins are left alone.
    if (new URL(request.url).origin !== scope.location.origin) return;
    const get = request.method === 'GET' && !request.headers.has('Range');
    const rel = get ? fileOf(request.url) : null;
    if (rel) {
      event.respondWith(bundleFile(rel).catch(() => passThrough(request)));
    } else if (get && request.url.split(/[?#]/)[0] === scope.location.href) {
      event.respondWith(
        caches
          .open(CACHE)
          .then((c) => c.match(scope.location.href))
          .then((hit) => hit || passThrough(request)),
      );
    } else {
      event.respondWith(passThrough(request));
    }
  });
} else {
  // ---- Page ----
  const page = /** @type {Window & {pffOffline?: {files: number} | {error: string}}} */ (window);
  (() => {
    const FLAG = 'pff-coi-reloaded';
    const storage = (() => {
      try {
        return window.sessionStorage;
      } catch (_) {
        return null; // storage disabled: no reload at all rather than risk a loop
      }
    })();

    if (window.crossOriginIsolated) {
      if (storage) storage.removeItem(FLAG);
      const sw = navigator.serviceWorker;
      if (sw && sw.controller) {
        // after the page has loaded, so that caching never slows the first classification
        sw.addEventListener('message', (event) => {
          const d = event.data || {};
          if (d.type === 'pff-warmed') page.pffOffline = { files: d.files };
          if (d.type === 'pff-warm-failed') page.pffOffline = { error: d.error };
        });
        window.addEventListener('load', () => setTimeout(() => sw.controller && sw.controller.postMessage({ type: 'pff-warm' }), 1000), { once: true });
      }
      return;
    }
    if (!window.isSecureContext || !('serviceWorker' in navigator) || !navigator.serviceWorker || !storage) {
      console.info('coi-serviceworker: service workers unavailable here; the page runs without cross-origin isolation.');
      return;
    }
    const reloadOnce = () => {
      if (storage.getItem(FLAG)) {
        console.warn('coi-serviceworker: still not cross-origin isolated after a reload; running without it.');
        return;
      }
      storage.setItem(FLAG, '1');
      window.location.reload();
    };

    const current = document.currentScript;
    const script = current instanceof HTMLScriptElement ? current.src : '';
    if (!script) return;
    navigator.serviceWorker.register(script).then(
      (/** @type {ServiceWorkerRegistration | undefined} */ registration) => {
        if (navigator.serviceWorker.controller) {
          // Controlled but not isolated (the worker was just updated, or the headers did not
          // take): one reload lets the worker answer the page itself.
          reloadOnce();
        } else if (!registration) {
          // Registered to nothing (a browser or a harness that blocks service workers says so
          // this way): the page runs without cross-origin isolation.
          console.info('coi-serviceworker: no service worker was registered; the page runs without cross-origin isolation.');
        } else if (registration.active) {
          // Active but not controlling this load (for example after a hard reload).
          reloadOnce();
        } else {
          // First visit: the worker claims the page when it activates.
          navigator.serviceWorker.addEventListener('controllerchange', reloadOnce, { once: true });
        }
      },
      (err) => console.error('coi-serviceworker: registration failed:', err),
    );
  })();
}
