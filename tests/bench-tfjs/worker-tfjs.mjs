// A module Worker around TensorFlow.js's WebAssembly backend. tfjs ships UMD bundles (its ESM
// builds import bare specifiers and node's fs/path), so they are fetched from the served
// node_modules/ and evaluated as classic global scripts, exactly what importScripts would do in a
// classic worker; they define self.tf and self.tf.wasm.
//
// {cmd:'init', threads, spoofCores} sets the wasm paths (and the thread count when `threads` > 0)
// and setBackend('wasm'). tfjs caps its pool at navigator.hardwareConcurrency / 2 (it assumes two
// hyper-threads per core), so on a 2-core machine it runs one thread whatever setThreadsCount
// says; spoofCores makes this worker's navigator.hardwareConcurrency report that number before
// the backend starts, lifting the cap (tfjs-backend-wasm reads it once, at initialisation).
// {cmd:'run', m, k, n, reps, budgetMs, freshB} times tf.matMul on f32
// tensors, dataSync() forcing completion: one untimed warm-up, then best of `reps`. The backend
// caches XNNPACK's packed copy of B by tensor id, so with freshB each rep multiplies by a new B
// tensor (same values, uploaded before the timer starts) and pays the packing, as pff does.

const DIST = '/node_modules/@tensorflow/tfjs-backend-wasm/dist/';
const SCRIPTS = ['/node_modules/@tensorflow/tfjs-core/dist/tf-core.min.js', `${DIST}tf-backend-wasm.min.js`];

let tf = null;
const data = new Map(); // "m,k" -> Float32Array

async function loadScript(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const text = await res.text();
  (0, eval)(`${text}\n//# sourceURL=${new URL(url, self.location.href).href}`);
}

function wasmFetched() {
  return performance
    .getEntriesByType('resource')
    .map((e) => e.name)
    .filter((u) => u.endsWith('.wasm'))
    .map((u) => u.slice(u.lastIndexOf('/') + 1));
}

async function init({ threads, spoofCores }) {
  const realCores = navigator.hardwareConcurrency;
  if (spoofCores > 0) {
    Object.defineProperty(Object.getPrototypeOf(navigator), 'hardwareConcurrency', { configurable: true, get: () => spoofCores });
  }
  for (const s of SCRIPTS) await loadScript(s);
  tf = self.tf;
  tf.enableProdMode();
  tf.wasm.setWasmPaths(new URL(DIST, self.location.href).href);
  if (threads > 0) tf.wasm.setThreadsCount(threads);
  const ok = await tf.setBackend('wasm');
  if (!ok || tf.getBackend() !== 'wasm') throw new Error(`setBackend('wasm') failed (backend: ${tf.getBackend()})`);
  await tf.ready();
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const multithread = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  const binaries = wasmFetched();
  const flags = tf.env().getFlags();
  return {
    tfjsVersion: tf.version_core,
    backendWasmVersion: tf.wasm.version_wasm,
    backend: tf.getBackend(),
    simd,
    multithread,
    binary: binaries[binaries.length - 1] || null,
    threadedSimd: binaries.includes('tfjs-backend-wasm-threaded-simd.wasm'),
    // tfjs 4.x has no WASM_NUM_THREADS flag; the backend's own count is tf.wasm.getThreadsCount()
    threads: tf.wasm.getThreadsCount(),
    requestedThreads: threads > 0 ? threads : 'default',
    hardwareConcurrency: realCores,
    spoofedHardwareConcurrency: spoofCores > 0 ? spoofCores : null,
    numThreadsFlag: 'WASM_NUM_THREADS' in flags ? flags.WASM_NUM_THREADS : null,
  };
}

function randn(len, seed) {
  // xorshift32 + a sum of uniforms: cheap, deterministic, roughly N(0, 1)
  let s = seed >>> 0 || 1;
  const out = new Float32Array(len);
  for (let i = 0; i < len; i++) {
    let acc = 0;
    for (let j = 0; j < 4; j++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      acc += (s >>> 0) / 4294967296;
    }
    out[i] = (acc - 2) * 1.7320508;
  }
  return out;
}

function values(rows, cols, seed) {
  const key = `${rows},${cols},${seed}`;
  if (!data.has(key)) data.set(key, randn(rows * cols, seed));
  return data.get(key);
}

function run({ m, k, n, reps, budgetMs, freshB }) {
  const flop = 2 * m * k * n;
  const a = tf.tensor2d(values(m, k, 1), [m, k], 'float32');
  const bVals = values(k, n, 2);
  let b = tf.tensor2d(bVals, [k, n], 'float32');
  const once = () => {
    if (freshB) {
      b.dispose();
      b = tf.tensor2d(bVals, [k, n], 'float32');
    }
    const t = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    const ms = performance.now() - t;
    c.dispose();
    return ms;
  };
  const t0 = performance.now();
  try {
    const warmMs = once();
    if (budgetMs > 0 && warmMs > budgetMs) {
      return { gflops: null, skipped: `warm-up took ${warmMs.toFixed(0)} ms > budget ${budgetMs} ms`, warmMs };
    }
    let best = Infinity;
    const times = [];
    for (let i = 0; i < reps; i++) {
      const ms = once();
      times.push(ms);
      best = Math.min(best, ms);
    }
    return { gflops: flop / (best * 1e6), bestMs: best, warmMs, timesMs: times, wallMs: performance.now() - t0 };
  } finally {
    a.dispose();
    b.dispose();
  }
}

self.onmessage = async ({ data: msg }) => {
  try {
    const result = msg.cmd === 'init' ? await init(msg) : run(msg);
    self.postMessage({ id: msg.id, ok: true, result });
  } catch (e) {
    self.postMessage({ id: msg.id, ok: false, error: String(e && e.stack ? e.stack : e) });
  }
};
