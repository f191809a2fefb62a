// A module Worker around pff's wasm build: {cmd:'init', build:'relaxed'|'threads'|'single', threads}
// loads /pkg/<build>/pff.js (and, for the threaded builds, starts a rayon pool of `threads`
// Web Workers); {cmd:'run', m, k, n, reps} answers with benchMatmul's best-of-reps GFLOP/s
// (one untimed warm-up product first, inside benchMatmul); with jsTimed, the matmul() export
// timed here instead (see runJsTimed).

let pff = null;

async function init({ build, threads }) {
  pff = await import(`/pkg/${build}/pff.js`);
  await pff.default();
  const threaded = build === 'threads' || build === 'relaxed';
  if (threaded) {
    if (!self.crossOriginIsolated) throw new Error('the threaded build needs cross-origin isolation (COOP/COEP)');
    await pff.initThreadPool(threads);
  }
  return {
    build,
    version: pff.version ? pff.version() : null,
    threadedBuild: pff.isThreadedBuild ? pff.isThreadedBuild() : threaded,
    simd: pff.simdKind ? pff.simdKind() : 'simd128',
    threadCount: pff.threadCount(),
    requestedThreads: threaded ? threads : 1,
  };
}

function randn(len, seed) {
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

// pff's matmul() export (copies a and b into wasm memory, multiplies, copies the product out)
// timed with performance.now(): one warm-up, best of reps.
function runJsTimed({ m, k, n, reps, budgetMs }) {
  const a = randn(m * k, 1);
  const b = randn(k * n, 2);
  const once = () => {
    const t = performance.now();
    const c = pff.matmul(a, b, m, k, n);
    const ms = performance.now() - t;
    if (c.length !== m * n) throw new Error(`matmul returned ${c.length} values, not ${m * n}`);
    return ms;
  };
  const t0 = performance.now();
  const warmMs = once();
  if (budgetMs > 0 && warmMs > budgetMs) return { gflops: null, skipped: `warm-up took ${warmMs.toFixed(0)} ms > budget ${budgetMs} ms`, warmMs };
  let best = Infinity;
  const times = [];
  for (let i = 0; i < reps; i++) {
    const ms = once();
    times.push(ms);
    best = Math.min(best, ms);
  }
  return { gflops: (2 * m * k * n) / (best * 1e6), bestMs: best, warmMs, timesMs: times, wallMs: performance.now() - t0 };
}

function run({ m, k, n, reps, jsTimed, budgetMs }) {
  if (jsTimed) return runJsTimed({ m, k, n, reps, budgetMs });
  const t0 = performance.now();
  const gflops = pff.benchMatmul(m, k, n, reps);
  const wallMs = performance.now() - t0;
  return { gflops, bestMs: (2 * m * k * n) / (gflops * 1e6), wallMs };
}

self.onmessage = async ({ data }) => {
  try {
    const result = data.cmd === 'init' ? await init(data) : run(data);
    self.postMessage({ id: data.id, ok: true, result });
  } catch (e) {
    self.postMessage({ id: data.id, ok: false, error: String(e && e.stack ? e.stack : e) });
  }
};
