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
async function matmulCheck(/** @type {MatmulCheckPayload} */ { m = 64, k = 96, n = 80, seed = 7 }) {
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

/** @typedef {import('./protocol.js').Catalog} Catalog */
/** @typedef {import('pff-wasm').DatasetStore} DatasetStore */
/** @typedef {import('pff-wasm').Model} Model */
/** A product's speed, or why it was not timed. @typedef {{m: number, k: number, n: number, gflops?: number, skipped?: string}} MatmulSpeed */
/** The Dream panel's latent map: PCA after `firstMs`, t-SNE done after `seconds`. @typedef {{points: number, iterations: number, firstMs: number, seconds: number}} TsneTiming */
/**
 * The WebGPU column (the core's web::GpuBench): the adapter, how it was timed, a readback's cost,
 * the GPU's products and one classification there.
 * @typedef {{adapter: string, timing: string, readback_ms: number, matmul: {m: number, k: number, n: number, ms: number|null, gflops: number|null, skipped: string|null}[],
 *   classify_one_ms: number}} GpuColumn
 */
/**
 * What `bench` measures: the build, the products' speed, the latency of the page's inference
 * calls, the latent map, training throughput of the pretrained model's preset (on the GPU in the
 * GPU build), and the GPU build's WebGPU column.
 * @typedef {import('./protocol.js').Runtime & {matmul: MatmulSpeed[], model: import('./protocol.js').Config, classifyMs: number,
 *   settleMs: number, dream100Ms: number, tsne: TsneTiming, trainPreset: string, trainBatches: number, trainSamplesPerSec: number, webgpu: GpuColumn|null}} BenchResult
 */
/**
 * What `bench` is asked: timed repetitions per product within a time budget, training batches,
 * the shapes (default: the presets'), and the preset whose training is timed (default: the
 * pretrained model's).
 * @typedef {{reps: number, budgetMs: number, train: number, shapes?: number[][], trainPreset?: string}} BenchPayload
 */
/** @typedef {{m?: number, k?: number, n?: number, seed?: number}} MatmulCheckPayload */
/**
 * The benchmark worker's requests: each payload and result (as protocol.js's Requests are the
 * engine worker's).
 * @typedef {{
 *   init: {payload: import('./protocol.js').InitOptions, result: import('./protocol.js').Runtime},
 *   bench: {payload: BenchPayload, result: BenchResult},
 *   matmulCheck: {payload: MatmulCheckPayload, result: Awaited<ReturnType<typeof matmulCheck>>},
 * }} BenchRequests
 */

/** The products of a training batch of the web and paper presets (2B rows: B real + B negatives). */
function modelShapes(/** @type {Catalog} */ cat) {
  const cfg = (/** @type {string} */ name) => {
    const preset = cat.presets.find((q) => q.name === name);
    if (!preset) throw new Error(`the catalog has no ${name} preset`);
    return preset.config;
  };
  const [web, paper] = [cfg('web'), cfg('paper')];
  return [
    [2 * web.batch_size, web.input_dim, web.hidden],
    [2 * web.batch_size, web.hidden, web.hidden],
    [512, paper.input_dim, paper.hidden],
    [2 * paper.batch_size, paper.hidden, paper.hidden],
  ];
}

/** GFLOP/s of each product, the larger shapes skipped when they would not fit the time budget. */
function productSpeeds(/** @type {import('./protocol.js').Wasm} */ wasm, /** @type {BenchPayload} */ p, /** @type {number[][]} */ shapes) {
  /** @type {MatmulSpeed[]} */
  const speeds = [];
  let rate = 0; // the slowest GFLOP/s so far, to time-box the larger shapes
  // Untimed: grow the wasm memory to the largest shape's needs once, so that no timed product
  // pays for growing it and faulting in fresh pages (the first shape read low without this).
  const [bm, bk, bn] = shapes.reduce((a, s) => (s[0] * s[1] * s[2] > a[0] * a[1] * a[2] ? s : a));
  wasm.benchMatmul(bm, bk, bn, 1);
  for (const [m, k, n] of shapes) {
    const flop = 2 * m * k * n;
    if (rate && (flop / (rate * 1e9)) * 1000 * (p.reps + 1) > p.budgetMs) {
      speeds.push({ m, k, n, skipped: `would take about ${Math.round((flop / (rate * 1e9)) * (p.reps + 1))} s` });
      continue;
    }
    const gflops = wasm.benchMatmul(m, k, n, p.reps);
    speeds.push({ m, k, n, gflops });
    rate = rate ? Math.min(rate, gflops) : gflops;
  }
  return speeds;
}

/** A store of the catalog's default dataset with the test images of a map and the training images. */
async function benchStore(/** @type {import('./protocol.js').Wasm} */ wasm, /** @type {Catalog} */ cat) {
  const store = new wasm.DatasetStore();
  store.setManifest(cat.default_dataset, await bytes(`data/${cat.default_dataset}/manifest.json`));
  for (const [split, want] of /** @type {[string, number][]} */ ([
    ['test', cat.map_points],
    ['train', TRAIN_IMAGES],
    ['dev', 1],
  ])) {
    for (let f = store.nextShard(split, want); f; f = store.nextShard(split, want)) store.addShard(split, f, await bytes(`data/${cat.default_dataset}/${f}`));
  }
  return store;
}

/** The Dream panel's latent map: the PCA picture, then the t-SNE map to its end, in the page's steps. */
function mapTiming(/** @type {Model} */ model, /** @type {DatasetStore} */ store, /** @type {Catalog} */ cat) {
  const points = Math.min(cat.map_points, store.size('test'));
  const t0 = performance.now();
  const map = model.tsneMap(store, 'test', 0, points, 1);
  map.start();
  const firstMs = performance.now() - t0;
  /** @type {import('./protocol.js').MapProgress} */
  let step;
  do step = map.step(cat.map_step_iterations);
  while (!step.done);
  map.free();
  return { points, iterations: step.iterations, firstMs, seconds: (performance.now() - t0) / 1000 };
}

/** Training throughput of `preset` (a fresh run; nothing is kept): samples per second over `batches` batches. */
async function trainingSpeed(
  /** @type {import('./protocol.js').Wasm} */ wasm,
  /** @type {DatasetStore} */ store,
  /** @type {string} */ preset,
  /** @type {string} */ dataset,
  /** @type {number} */ batches,
) {
  const run = new wasm.Run({ preset, dataset, train_limit: TRAIN_IMAGES, dev_limit: 1, no_test: true, no_prior: true }, store);
  try {
    // the GPU build trains on its adapter (its steps are Promises; the CPU builds' are values)
    const onGpu = /** @type {{useGpu?: () => Promise<void>}} */ (/** @type {unknown} */ (run));
    if (onGpu.useGpu) await onGpu.useGpu();
    await run.advance(store, 1); // the epoch-0 evaluation
    await run.advance(store, 1); // warm-up batch
    const t = performance.now();
    const r = /** @type {import('./protocol.js').Progress} */ (await run.advance(store, batches));
    const s = (performance.now() - t) / 1000;
    return { trainPreset: preset, trainBatches: r.batches.length, trainSamplesPerSec: r.batches.reduce((a, b) => a + b.samples, 0) / s };
  } finally {
    run.free();
  }
}

/**
 * The WebGPU column (the GPU build): its products on the same shapes, one classification and a
 * readback on the adapter. Training throughput is `trainingSpeed`'s, which trains on the GPU in
 * this build.
 * @returns {Promise<GpuColumn>}
 */
async function gpuColumn(/** @type {Model} */ model, /** @type {BenchPayload} */ p, /** @type {number[][]} */ shapes) {
  const bench = /** @type {{benchGpu: (shapes: Uint32Array, reps: number, budgetMs: number) => Promise<GpuColumn>}} */ (/** @type {unknown} */ (model));
  return bench.benchGpu(Uint32Array.from(shapes.flat()), p.reps, p.budgetMs);
}

/** @returns {Promise<BenchResult>} */
async function bench(/** @type {BenchPayload} */ p) {
  const wasm = started();
  if (!runtime) throw new Error('the benchmark worker has not started');
  const cat = /** @type {Catalog} */ (wasm.catalog());
  const matmul = productSpeeds(wasm, p, p.shapes || modelShapes(cat));
  const store = await benchStore(wasm, cat);
  const model = wasm.Model.fromWeights(await bytes(cat.pretrained_url));
  try {
    const info = /** @type {{config: import('./protocol.js').Config}} */ (model.info());
    const img = Float32Array.from(/** @type {import('./protocol.js').ImageBatch} */ (store.images('test', 0, 1)).pixels, (v) => v / 255);
    return {
      ...runtime,
      matmul,
      model: info.config,
      classifyMs: timeIt(() => model.classify(img), 20).ms,
      settleMs: timeIt(() => model.settle(img, 0), 10).ms,
      dream100Ms: timeIt((i) => model.dream(100, -1, i + 2), 5).ms,
      tsne: mapTiming(model, store, cat),
      ...(await trainingSpeed(wasm, store, p.trainPreset || info.config.preset, cat.default_dataset, p.train)),
      webgpu: runtime.build === 'webgpu' ? await gpuColumn(model, p, p.shapes || modelShapes(cat)) : null,
    };
  } finally {
    model.free();
    store.free();
  }
}

/** @typedef {{[K in keyof BenchRequests]: (payload: BenchRequests[K]['payload']) => Promise<BenchRequests[K]['result']>}} BenchHandlers */

/** @type {BenchHandlers} */
const handlers = {
  init: async ({ mode = 'auto' }) => {
    if (!wasm || !runtime) ({ wasm, runtime } = await startBuild(mode, { useGpu: false })); // the CPU columns stay on the CPU
    return runtime;
  },
  bench,
  matmulCheck,
};

self.onmessage = async (/** @type {MessageEvent<{id: number, type: keyof BenchRequests, payload?: unknown}>} */ e) => {
  const { id, type, payload } = e.data || {};
  try {
    const h = /** @type {((p: unknown) => Promise<unknown>) | undefined} */ (Object.hasOwn(handlers, type) ? handlers[type] : undefined);
    if (!h) throw new Error(`unknown request type ${JSON.stringify(type)}`);
    if (!wasm && type !== 'init') await handlers.init({});
    postMessage({ id, ok: true, result: await h(payload || {}) });
  } catch (err) {
    postMessage({ id, ok: false, error: { kind: 'internal', message: err instanceof Error ? err.message : String(err) } });
  }
};
