// @ts-check
// Picks and starts the WebAssembly build for a worker: `pkg/threads` (wasm-bindgen-rayon,
// one pool thread per core) where the page is cross-origin isolated and the browser validates
// a module with shared memory, `pkg/single` everywhere else or when the pool fails to start.
// Used by the engine worker and by the benchmark worker.

/** A module with one shared memory (the smallest module that needs WebAssembly threads). */
const PROBE_SHARED_MEMORY = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 5, 4, 1, 3, 1, 1]);
const BASE = new URL('./', self.location.href);

/** The site root (www/ is served at /). */
export const SITE = BASE;

/**
 * Imports and initialises a build.
 * @param {'threads'|'single'} which
 * @returns {Promise<any>} the package's module namespace
 */
export async function importBuild(which) {
  const mod = await import(new URL(`pkg/${which}/pff.js`, BASE).href);
  await mod.default();
  return mod;
}

/**
 * Starts the best build this page allows.
 * @param {'auto'|'single'} wanted
 * @returns {Promise<{wasm: any, runtime: import('./protocol.js').Runtime, warning: string|null}>}
 */
export async function startBuild(wanted = 'auto') {
  let reason = '';
  let warning = null;
  if (wanted === 'single') reason = 'the single-thread build was asked for';
  else if (self.crossOriginIsolated !== true) reason = 'this host does not allow cross-origin isolation';
  else if (typeof SharedArrayBuffer === 'undefined' || !WebAssembly.validate(PROBE_SHARED_MEMORY)) reason = 'this browser has no WebAssembly threads';
  else {
    try {
      const wasm = await importBuild('threads');
      const n = Math.max(1, navigator.hardwareConcurrency || 1);
      await wasm.initThreadPool(n);
      return { wasm, runtime: { mode: 'threads', threads: wasm.threadCount(), reason: `cross-origin isolated, ${n} cores`, version: wasm.version() }, warning };
    } catch (e) {
      reason = `the thread pool failed to start (${e instanceof Error ? e.message : e})`;
      warning = `threads build unavailable, using the single-thread build: ${reason}`;
    }
  }
  const wasm = await importBuild('single');
  return { wasm, runtime: { mode: 'single', threads: 1, reason, version: wasm.version() }, warning };
}
