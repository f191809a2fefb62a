// @ts-check
// The benchmark worker, loaded only by bench.html (and the e2e tests' kernel check): matrix
// products in GFLOP/s, the latency of the page's inference calls, training throughput, and a
// check of this build's products against a naive one and against the single-thread build.
// Messages: {id, type: 'init'|'bench'|'matmulCheck', payload} -> {id, ok, result|error}.

import { SITE, importBuild, startBuild } from './wasm-build.js';

/** Training images of the throughput measurement. */
const TRAIN_IMAGES = 2000;

let wasm = /** @type {import('./protocol.js').Wasm|null} */ (null);
let runtime = /** @type {import('./protocol.js').Runtime|null} */ (null);

async function bytes(/** @type {string} */ path) {
  const res = await fetch(new URL(path, SITE).href);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** The build `init` started. */
function started() {
  if (!wasm) throw new Error('the benchmark worker has not started');
  return wasm;
}

function median(/** @type {number[]} */ xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median milliseconds of `fn` over at most `reps` calls within `budgetMs`. */
function timeIt(/** @type {(i: number) => void} */ fn, /** @type {number} */ reps, budgetMs = 5000) {
  const times = [];
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    const a = performance.now();
    fn(i);
    times.push(performance.now() - a);
    if (performance.now() - t0 > budgetMs && times.length >= 3) break;
  }
  return { ms: median(times), reps: times.length };
}

function randomMatrix(/** @type {number} */ n, /** @type {number} */ seed) {
  let s = seed >>> 0 || 1;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    a[i] = s / 4294967296 - 0.5;
  }
  return a;
}

function maxDiff(/** @type {ArrayLike<number>} */ x, /** @type {ArrayLike<number>} */ y) {
  let d = 0;
  for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
  return d;
}

/** a·b with this build, against a naive product and (threads mode) the single-thread build. */
async function matmulCheck({ m = 64, k = 96, n = 80, seed = 7 }) {
  const wasm = started();
  const a = randomMatrix(m * k, seed);
  const b = randomMatrix(k * n, seed + 1);
  const t = performance.now();
  const c = wasm.matmul(a, b, m, k, n);
  const ms = performance.now() - t;
  const naive = new Float32Array(m * n);
  for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) naive[i * n + j] += a[i * k + p] * b[p * n + j];
  const single = runtime && runtime.mode === 'threads' ? await importBuild('single') : null;
  return {
    mode: runtime && runtime.mode,
    build: runtime && runtime.build,
    threads: wasm.threadCount(),
    m,
    k,
    n,
    maxDiffNaive: maxDiff(c, naive),
    maxDiffSingle: single ? maxDiff(c, single.matmul(a, b, m, k, n)) : null,
    ms,
    length: c.length,
  };
}

/** The products of a training batch of the web and paper presets (2B rows: B real + B negatives). */
function modelShapes(/** @type {any} */ cat) {
  const cfg = (/** @type {string} */ name) => cat.presets.find((/** @type {any} */ q) => q.name === name).config;
  const [web, paper] = [cfg('web'), cfg('paper')];
  return [
    [2 * web.batch_size, web.input_dim, web.hidden],
    [2 * web.batch_size, web.hidden, web.hidden],
    [512, paper.input_dim, paper.hidden],
    [2 * paper.batch_size, paper.hidden, paper.hidden],
  ];
}

async function bench(/** @type {any} */ p) {
  const wasm = started();
  const out = /** @type {any} */ ({ ...runtime, matmul: [] });
  const cat = wasm.catalog();
  let rate = 0; // the slowest GFLOP/s so far, to time-box the larger shapes
  const shapes = p.shapes || modelShapes(cat);
  // Untimed: grow the wasm memory to the largest shape's needs once, so that no timed product
  // pays for growing it and faulting in fresh pages (the first shape read low without this).
  const [bm, bk, bn] = shapes.reduce((/** @type {number[]} */ a, /** @type {number[]} */ s) => (s[0] * s[1] * s[2] > a[0] * a[1] * a[2] ? s : a));
  wasm.benchMatmul(bm, bk, bn, 1);
  for (const [m, k, n] of shapes) {
    const flop = 2 * m * k * n;
    if (rate && (flop / (rate * 1e9)) * 1000 * (p.reps + 1) > p.budgetMs) {
      out.matmul.push({ m, k, n, skipped: `would take about ${Math.round((flop / (rate * 1e9)) * (p.reps + 1))} s` });
      continue;
    }
    const gflops = wasm.benchMatmul(m, k, n, p.reps);
    out.matmul.push({ m, k, n, gflops });
    rate = rate ? Math.min(rate, gflops) : gflops;
  }
  const store = new wasm.DatasetStore();
  store.setManifest(cat.default_dataset, await bytes(`data/${cat.default_dataset}/manifest.json`));
  for (const [split, want] of [
    ['test', cat.map_points],
    ['train', TRAIN_IMAGES],
    ['dev', 1],
  ]) {
    for (let f = store.nextShard(split, want); f; f = store.nextShard(split, want)) store.addShard(split, f, await bytes(`data/${cat.default_dataset}/${f}`));
  }
  const model = wasm.Model.fromWeights(await bytes(cat.pretrained_url));
  out.model = model.info().config;
  const img = Float32Array.from(store.images('test', 0, 1).pixels, (v) => v / 255);
  out.classifyMs = timeIt(() => model.classify(img), 20).ms;
  out.settleMs = timeIt(() => model.settle(img, 0), 10).ms;
  out.dream100Ms = timeIt((i) => model.dream(100, -1, i + 2), 5).ms;
  // the Dream panel's latent map: the PCA picture, then the t-SNE map to its end, in the page's steps
  const points = Math.min(cat.map_points, store.size('test'));
  const t0 = performance.now();
  const map = model.tsneMap(store, 'test', 0, points, 1);
  map.start();
  const firstMs = performance.now() - t0;
  let step;
  do step = map.step(cat.map_step_iterations);
  while (!step.done);
  out.tsne = { points, iterations: step.iterations, firstMs, seconds: (performance.now() - t0) / 1000 };
  map.free();
  // training throughput of the model's preset (a fresh run; nothing is kept)
  const run = new wasm.Run(
    { preset: out.model.preset, dataset: cat.default_dataset, train_limit: TRAIN_IMAGES, dev_limit: 1, no_test: true, no_prior: true },
    store,
  );
  run.advance(store, 1); // the epoch-0 evaluation
  run.advance(store, 1); // warm-up batch
  const t = performance.now();
  const r = run.advance(store, p.train);
  const s = (performance.now() - t) / 1000;
  out.trainBatches = r.batches.length;
  out.trainSamplesPerSec = r.batches.reduce((/** @type {number} */ a, /** @type {any} */ b) => a + b.samples, 0) / s;
  run.free();
  model.free();
  store.free();
  return out;
}

/** @type {Record<string, (p: any) => any>} */
const handlers = {
  init: async ({ mode = 'auto' }) => {
    if (!wasm) ({ wasm, runtime } = await startBuild(mode));
    return runtime;
  },
  bench,
  matmulCheck,
};

self.onmessage = async (/** @type {MessageEvent} */ e) => {
  const { id, type, payload } = e.data || {};
  try {
    if (!wasm && type !== 'init') await handlers.init({});
    postMessage({ id, ok: true, result: await handlers[type](payload || {}) });
  } catch (err) {
    postMessage({ id, ok: false, error: { kind: 'internal', message: err instanceof Error ? err.message : String(err) } });
  }
};
