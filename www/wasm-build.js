// @ts-check
// Picks and starts the WebAssembly build for a worker: where the page is cross-origin isolated
// and the browser validates a module with shared memory, `pkg/relaxed` (threads and fused
// multiply-add) if it also validates a relaxed-SIMD instruction, else `pkg/threads`; `pkg/single`
// everywhere else or when the pool fails to start. Used by the engine and benchmark workers.

/** A module with one shared memory (the smallest module that needs WebAssembly threads). */
const PROBE_SHARED_MEMORY = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 5, 4, 1, 3, 1, 1]);
const V128_ZERO = [0xfd, 0x0c, ...new Array(16).fill(0)];
/** A module whose one function returns f32x4.relaxed_madd(0, 0, 0): valid only with relaxed SIMD. */
// prettier-ignore
const PROBE_RELAXED_SIMD = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, // magic, version
  1, 5, 1, 0x60, 0, 1, 0x7b, // types: () -> v128
  3, 2, 1, 0, // one function of type 0
  10, 61, 1, 59, 0, ...V128_ZERO, ...V128_ZERO, ...V128_ZERO, 0xfd, 0x85, 0x02, 0x0b, // its code
]);

/** Whether this engine validates relaxed-SIMD instructions. */
export const hasRelaxedSimd = () => WebAssembly.validate(PROBE_RELAXED_SIMD);
const BASE = new URL('./', self.location.href);

/** The site root (www/ is served at /). */
export const SITE = BASE;

/**
 * Imports and initialises a build.
 * @param {import('./protocol.js').Build} which
 * @returns {Promise<import('./protocol.js').Wasm>} the package's module namespace
 */
export async function importBuild(which) {
  const mod = /** @type {import('./protocol.js').Wasm} */ (await import(new URL(`pkg/${which}/pff.js`, BASE).href));
  await mod.default();
  return mod;
}

/** The SIMD a build was compiled with, in the protocol's words. @param {import('./protocol.js').Wasm} wasm @returns {import('./protocol.js').Runtime['simd']} */
const simdOf = (wasm) => (wasm.simdKind() === 'relaxed-simd' ? 'relaxed-simd' : 'simd128');

/**
 * Starts the best build this page allows, or a slower one when asked (`threads`: no fused
 * multiply-add; `single`: one thread).
 * @param {'auto'|import('./protocol.js').Build} wanted
 * @returns {Promise<{wasm: import('./protocol.js').Wasm, runtime: import('./protocol.js').Runtime, warning: string|null}>}
 */
export async function startBuild(wanted = 'auto') {
  let reason = '';
  let warning = null;
  if (wanted === 'single') reason = 'the single-thread build was asked for';
  else if (self.crossOriginIsolated !== true) reason = 'this host does not allow cross-origin isolation';
  else if (typeof SharedArrayBuffer === 'undefined' || !WebAssembly.validate(PROBE_SHARED_MEMORY)) reason = 'this browser has no WebAssembly threads';
  else {
    const relaxed = wanted !== 'threads' && hasRelaxedSimd();
    const why = relaxed ? '' : wanted === 'threads' ? ', the build without relaxed SIMD was asked for' : ', no relaxed SIMD in this browser';
    // a site without pkg/relaxed (an older bundle) still gets threads
    for (const build of relaxed ? /** @type {const} */ (['relaxed', 'threads']) : /** @type {const} */ (['threads'])) {
      try {
        const wasm = await importBuild(build);
        const n = Math.max(1, navigator.hardwareConcurrency || 1);
        await wasm.initThreadPool(n);
        const runtime = {
          mode: /** @type {const} */ ('threads'),
          build,
          simd: simdOf(wasm),
          threads: wasm.threadCount(),
          reason: `cross-origin isolated, ${n} cores${why}`,
          version: wasm.version(),
        };
        return { wasm, runtime, warning };
      } catch (e) {
        reason = `the thread pool failed to start (${e instanceof Error ? e.message : e})`;
        warning = `${build} build unavailable: ${reason}`;
      }
    }
  }
  const wasm = await importBuild('single');
  return { wasm, runtime: { mode: 'single', build: 'single', simd: simdOf(wasm), threads: 1, reason, version: wasm.version() }, warning };
}

/**
 * The build a page's address asks for: `?build=relaxed|threads|single` (or `?mode=single`),
 * for comparisons; `auto` otherwise.
 * @param {string} search location.search
 * @returns {'auto'|import('./protocol.js').Build}
 */
export function wantedBuild(search) {
  const q = new URLSearchParams(search);
  const build = q.get('build') || (q.get('mode') === 'single' ? 'single' : '');
  return build === 'relaxed' || build === 'threads' || build === 'single' ? build : 'auto';
}

/**
 * How the page names a runtime: "2 threads · relaxed SIMD", "1 thread · SIMD128".
 * @param {import('./protocol.js').Runtime} rt
 */
export function runtimeLabel(rt) {
  const simd = rt.simd === 'relaxed-simd' ? 'relaxed SIMD' : 'SIMD128';
  return `${rt.threads} thread${rt.threads === 1 ? '' : 's'} · ${simd}`;
}
