// @ts-check
// Picks and starts the WebAssembly build for a worker: `pkg/webgpu` (the GPU engine on WebGPU,
// one CPU thread) where the browser offers a WebGPU adapter and the worker asked for the GPU;
// else, where the page is cross-origin isolated and the browser validates a module with shared
// memory, `pkg/relaxed` (threads and fused multiply-add) if it also validates a relaxed-SIMD
// instruction, else `pkg/threads`; `pkg/single` everywhere else or when the pool fails to start.
// Used by the engine and benchmark workers. The GPU build is fetched only when an adapter exists.

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
 * The browser's WebGPU adapter, named as the badge shows it ("swiftshader", "nvidia ampere"), or
 * why there is none.
 * @returns {Promise<{adapter: string|null, reason: string}>}
 */
export async function webgpuAdapter() {
  const gpu = /** @type {{requestAdapter: (o?: object) => Promise<{info?: {vendor?: string, architecture?: string, description?: string}}|null>}|undefined} */ (
    /** @type {any} */ (navigator).gpu
  );
  if (!gpu) return { adapter: null, reason: 'this browser has no WebGPU' };
  try {
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return { adapter: null, reason: 'the browser offers no WebGPU adapter' };
    const info = adapter.info || {};
    const name = [info.vendor, info.architecture].filter(Boolean).join(' ') || info.description || 'gpu';
    return { adapter: name, reason: '' };
  } catch (e) {
    return { adapter: null, reason: `the WebGPU adapter request failed (${e instanceof Error ? e.message : e})` };
  }
}

/**
 * Starts the best build this page allows, or a slower one when asked (`threads`: no fused
 * multiply-add; `single`: one thread). `auto` and `webgpu` take the GPU build where there is an
 * adapter (`useGpu`: the engine worker; the benchmark worker asks for it by name); without one
 * the CPU builds follow, and `gpu` says why.
 * @param {'auto'|import('./protocol.js').Build} wanted
 * @param {{useGpu?: boolean}} [options]
 * @returns {Promise<{wasm: import('./protocol.js').Wasm, runtime: import('./protocol.js').Runtime, warning: string|null}>}
 */
export async function startBuild(wanted = 'auto', { useGpu = true } = {}) {
  let gpuReason = wanted === 'auto' || wanted === 'webgpu' ? '' : `the ${wanted} build was asked for`;
  let warning = null;
  if ((wanted === 'auto' && useGpu) || wanted === 'webgpu') {
    const { adapter, reason } = await webgpuAdapter();
    gpuReason = reason;
    if (adapter) {
      try {
        const wasm = await importBuild('webgpu');
        const runtime = {
          mode: /** @type {const} */ ('single'),
          build: /** @type {const} */ ('webgpu'),
          simd: simdOf(wasm),
          threads: 1,
          reason: `WebGPU adapter: ${adapter}`,
          version: wasm.version(),
          gpu: adapter,
        };
        return { wasm, runtime, warning };
      } catch (e) {
        gpuReason = `the WebGPU build failed to start (${e instanceof Error ? e.message : e})`;
      }
    }
    if (wanted === 'webgpu') warning = `webgpu build unavailable: ${gpuReason}`;
  }
  const cpu = await startCpuBuild(wanted === 'webgpu' ? 'auto' : wanted);
  return { ...cpu, runtime: { ...cpu.runtime, gpu: null, gpu_reason: gpuReason }, warning: warning || cpu.warning };
}

/**
 * The CPU builds: relaxed → threads → single, as the page allows.
 * @param {'auto'|'relaxed'|'threads'|'single'} wanted
 * @returns {Promise<{wasm: import('./protocol.js').Wasm, runtime: import('./protocol.js').Runtime, warning: string|null}>}
 */
async function startCpuBuild(wanted) {
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
          gpu: null,
        };
        return { wasm, runtime, warning };
      } catch (e) {
        reason = `the thread pool failed to start (${e instanceof Error ? e.message : e})`;
        warning = `${build} build unavailable: ${reason}`;
      }
    }
  }
  const wasm = await importBuild('single');
  return { wasm, runtime: { mode: 'single', build: 'single', simd: simdOf(wasm), threads: 1, reason, version: wasm.version(), gpu: null }, warning };
}

/**
 * The build a page's address asks for: `?build=webgpu|relaxed|threads|single` (or
 * `?mode=single`), for comparisons; `auto` otherwise.
 * @param {string} search location.search
 * @returns {'auto'|import('./protocol.js').Build}
 */
export function wantedBuild(search) {
  const q = new URLSearchParams(search);
  const build = q.get('build') || (q.get('mode') === 'single' ? 'single' : '');
  return build === 'webgpu' || build === 'relaxed' || build === 'threads' || build === 'single' ? build : 'auto';
}

/**
 * How the page names a runtime: "WebGPU · swiftshader", "2 threads · relaxed SIMD", "1 thread · SIMD128".
 * @param {import('./protocol.js').Runtime} rt
 */
export function runtimeLabel(rt) {
  if (rt.build === 'webgpu') return `WebGPU · ${rt.gpu}`;
  const simd = rt.simd === 'relaxed-simd' ? 'relaxed SIMD' : 'SIMD128';
  return `${rt.threads} thread${rt.threads === 1 ? '' : 's'} · ${simd}`;
}
