/*! coi-serviceworker for pff: cross-origin isolation on static hosts that cannot set headers.
 * The pattern of gzuidhof/coi-serviceworker (MIT): the same file is
 *  - in a page (loaded by <script src="coi-serviceworker.js">, first in <head>): if the page
 *    is not cross-origin isolated, it registers itself as a service worker and reloads the page
 *    once that worker controls it (at most once per tab session, so it can never loop);
 *  - in the service worker: it answers same-origin fetches with the network response plus the
 *    COOP / COEP / CORP headers that make the page cross-origin isolated (SharedArrayBuffer,
 *    and so the threaded WebAssembly build).
 * Where service workers are unavailable (insecure context, private modes) it does nothing and
 * the page runs its single-thread build.
 */
"use strict";

if (typeof window === "undefined") {
  // ---- Service worker ----
  self.addEventListener("install", () => self.skipWaiting());
  self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

  self.addEventListener("fetch", (event) => {
    const request = event.request;
    // Such requests throw when fetched from a worker: let the browser handle them.
    if (request.cache === "only-if-cached" && request.mode !== "same-origin") return;
    // Only our own files get the headers; other origins are left alone.
    if (new URL(request.url).origin !== self.location.origin) return;

    event.respondWith(
      fetch(request).then((response) => {
        // Opaque responses and redirects cannot be rebuilt.
        if (response.status === 0 || response.type === "opaqueredirect") return response;
        const headers = new Headers(response.headers);
        headers.set("Cross-Origin-Opener-Policy", "same-origin");
        headers.set("Cross-Origin-Embedder-Policy", "require-corp");
        headers.set("Cross-Origin-Resource-Policy", "same-origin");
        return new Response(response.body, {
          status: response.status,
          statusText: response.statusText,
          headers,
        });
      })
    );
  });
} else {
  // ---- Page ----
  (() => {
    const FLAG = "pff-coi-reloaded";
    const storage = (() => {
      try {
        return window.sessionStorage;
      } catch (_) {
        return null; // storage disabled: no reload at all rather than risk a loop
      }
    })();

    if (window.crossOriginIsolated) {
      if (storage) storage.removeItem(FLAG);
      return;
    }
    if (!window.isSecureContext || !("serviceWorker" in navigator) || !navigator.serviceWorker || !storage) {
      console.info("coi-serviceworker: service workers unavailable here; the page runs without cross-origin isolation.");
      return;
    }
    const reloadOnce = () => {
      if (storage.getItem(FLAG)) {
        console.warn("coi-serviceworker: still not cross-origin isolated after a reload; running without it.");
        return;
      }
      storage.setItem(FLAG, "1");
      window.location.reload();
    };

    const script = document.currentScript && document.currentScript.src;
    if (!script) return;
    navigator.serviceWorker.register(script).then(
      (registration) => {
        if (navigator.serviceWorker.controller) {
          // Controlled but not isolated (the worker was just updated, or the headers did not
          // take): one reload lets the worker answer the page itself.
          reloadOnce();
        } else if (registration.active) {
          // Active but not controlling this load (for example after a hard reload).
          reloadOnce();
        } else {
          // First visit: the worker claims the page when it activates.
          navigator.serviceWorker.addEventListener("controllerchange", reloadOnce, { once: true });
        }
      },
      (err) => console.error("coi-serviceworker: registration failed:", err)
    );
  })();
}
