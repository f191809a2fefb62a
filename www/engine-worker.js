/* pff engine worker: the only code of the page that touches WebAssembly.
 *
 * Started by engine.js as a module Worker (`new Worker('engine-worker.js', {type: 'module'})`).
 * It owns one wasm `Engine` (model + trainer + prior + loaded data) and answers messages.
 *
 * ## Build choice
 * `pkg/threads` (wasm-bindgen-rayon) when `self.crossOriginIsolated` is true and the browser
 * validates a module with shared memory; its pool is started here with
 * `initThreadPool(navigator.hardwareConcurrency)`. Otherwise, or if the pool fails to start,
 * `pkg/single`. `init` reports which one runs and why.
 *
 * ## Protocol
 * Requests (page -> worker):   {id, type, payload}
 * Replies  (worker -> page):   {id, ok: true, result}  |  {id, ok: false, error: "message"}
 * Events   (worker -> page):   {event: 'progress', ...}   training progress (<= ~4 per second)
 *                              {event: 'log', level: 'info'|'warn'|'error', message}
 *                              {event: 'status', status}  after the model or data changed
 *                              {event: 'fatal', message}   the wasm instance trapped: restart me
 * Typed arrays in results are transferred (not copied) where possible.
 *
 * Types (payload -> result):
 *   init        {mode: 'auto'|'single'}             -> {mode: 'threads'|'single', threads, reason, version}
 *   status      {}                                  -> status (see `status()` below)
 *   info        {}                                  -> engine.info() + status, or {model: null}
 *   loadDataset {name: 'mnist', splits: {test: 0, train: 5000, dev: 2000}, ensure?}  (0 = whole
 *               split; ensure: only fill splits that are still empty) -> {name, sizes: {split: n}}
 *               Shards are fetched from data/<name>/ once and kept, so a later, larger request
 *               or a new model reuses them. Loading another dataset replaces the splits.
 *   addShard    {split, bytes}                      -> {split, size}   a gzip shard given as bytes;
 *               a corrupt shard throws and leaves the split unchanged
 *   manifest    {name}                              -> the manifest, or null when absent (404)
 *   loadWeights {url, optional?} | {bytes, name?}   -> {loaded: true, info} | {loaded: false, reason}
 *               A bad file throws and keeps the current model. `optional`: 404 is not an error.
 *   exportWeights {half?}                           -> {bytes: Uint8Array}
 *   newModel    {preset, seed, overrides: {steps, lr, ...}} -> status.model (loaded data is kept)
 *   classify    {pixels: Float32Array(784)}         -> {scores, probs, forward, prediction, forwardPrediction}
 *   classifyBatch {pixels}                          -> {predictions: Uint8Array}
 *   settle      {pixels, label}                     -> engine.settle(...)
 *   sample      {n, component = -1, seed}           -> {images, latents, components}
 *   fitPrior    {split = 'train', limit = 2000, components, seed} -> priorInfo
 *   priorInfo   {}                                  -> priorInfo or null
 *   latents     {pixels}                            -> {latents: Float32Array, dim}
 *   decode      {latents}                           -> {images}
 *   evaluate    {split = 'test', limit = 0}         -> engine.evaluate(...)
 *   images      {split = 'test', start, count}      -> {pixels: Uint8Array, labels: Uint8Array}
 *   train       {epochs = 1, maxBatches = 0 (0: no limit), lr?, devLimit = 2000, batchesPerChunk?,
 *                fitPrior = true (refit the generative prior on 2000 training images at the end)}
 *               Runs in chunks (about 150 ms each, or batchesPerChunk batches); other messages
 *               are answered between chunks. Posts `progress` events {phase, epoch, epochs,
 *               batch, batchesPerEpoch, done, total, fraction, samplesPerSec, etaSec,
 *               elapsedSec, threads, batches: [per-batch losses since the last event],
 *               devAccuracy?, epochEnd?}. Resolves when finished or stopped:
 *               {stopped, epochs, epoch, batches, samples, seconds, samplesPerSec, devAccuracy,
 *                lastBatch, firstLosses, lastLosses (the first and last 5 batches' losses)}.
 *               Another `train`, `newModel`, `loadWeights`, a change of the train split or of the
 *               dataset are refused while a run is active; everything else is answered.
 *   pause / resume / stop  {}                       -> {state}
 *   matmulCheck {m, k, n, seed}                     -> {mode, threads, maxDiffNaive, maxDiffSingle|null, ms}
 *               a·b with this build, compared with a naive JS product and (threads mode) with
 *               pkg/single loaded in this worker.
 *   bench       {shapes: [[m,k,n],...], reps, budgetMs, classify, settle, dream, train}
 *               -> {mode, threads, matmul: [{m,k,n,gflops}|{..., skipped}], classifyMs,
 *                  settleMs, dream100Ms, trainSamplesPerSec, model}
 *   crash       {}                                  test hook: throws outside any handler
 */

const PROBE_SHARED_MEMORY = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 5, 4, 1, 3, 1, 1]);
const BASE = new URL('./', self.location.href); // the site root (www/ is served at /)

let wasm = null; // the loaded package's module namespace
let single = null; // pkg/single when loaded for comparisons in threads mode
let engine = null; // the wasm Engine, or null before a model exists
let runtime = { mode: 'single', threads: 1, reason: '', version: '' };
let modelName = null; // human-readable source of the current model
const shardCache = new Map(); // url -> Uint8Array (gz bytes)
let dataset = { name: null, sizes: {}, requested: {} };
let training = null; // {paused, stop, resume()} while a training run is active

const log = (level, message) => postMessage({ event: 'log', level, message });

function status() {
  let model = null;
  if (engine) {
    const info = engine.info();
    model = {
      name: modelName,
      preset: info.config.preset,
      hidden: info.config.hidden,
      steps: info.config.steps,
      latent: info.config.latent,
      lr: info.config.lr,
      batchSize: info.config.batch_size,
      params: info.params,
      hasPrior: info.hasPrior,
      epoch: info.epoch, // epochs trained by this engine (0 for a freshly loaded file)
      batch: info.batch,
      trainedEpochs: Math.max(info.epoch, (info.meta && info.meta.epochs) || 0), // incl. the file's record
      dataset: (info.meta && info.meta.dataset) || '',
      devAccuracy: info.meta.dev_accuracy ?? null,
    };
  }
  return {
    mode: runtime.mode,
    threads: runtime.threads,
    reason: runtime.reason,
    model,
    dataset: { name: dataset.name, sizes: { ...dataset.sizes } },
    training: training ? (training.paused ? 'paused' : 'running') : 'idle',
  };
}

const postStatus = () => postMessage({ event: 'status', status: status() });

function requireEngine() {
  if (!engine) throw new Error('no model is loaded: load weights or train a model first');
  return engine;
}

function requireIdle(what) {
  if (training) throw new Error(`cannot ${what} while training runs: stop training first`);
}

// ---------------------------------------------------------------- initialisation

async function init({ mode: wanted = 'auto' } = {}) {
  if (wasm) return { ...runtime };
  const wantThreads = self.crossOriginIsolated === true;
  let threadsOk = false;
  let reason = '';
  if (wanted === 'single') {
    reason = 'the single-thread build was asked for';
  } else if (!wantThreads) {
    reason = 'this host does not allow cross-origin isolation';
  } else if (typeof SharedArrayBuffer === 'undefined' || !WebAssembly.validate(PROBE_SHARED_MEMORY)) {
    reason = 'this browser has no WebAssembly threads';
  } else {
    threadsOk = true;
  }
  if (threadsOk) {
    try {
      const mod = await import(new URL('pkg/threads/pff.js', BASE).href);
      await mod.default();
      const n = Math.max(1, navigator.hardwareConcurrency || 1);
      await mod.initThreadPool(n);
      wasm = mod;
      runtime = { mode: 'threads', threads: mod.threadCount(), reason: `cross-origin isolated, ${n} cores`, version: mod.version() };
    } catch (e) {
      reason = `the thread pool failed to start (${e && e.message ? e.message : e})`;
      log('warn', `threads build unavailable, using the single-thread build: ${reason}`);
    }
  }
  if (!wasm) {
    const mod = await import(new URL('pkg/single/pff.js', BASE).href);
    await mod.default();
    wasm = mod;
    runtime = { mode: 'single', threads: 1, reason, version: mod.version() };
  }
  return { ...runtime };
}

async function loadSingle() {
  if (runtime.mode === 'single') return wasm;
  if (!single) {
    const mod = await import(new URL('pkg/single/pff.js', BASE).href);
    await mod.default();
    single = mod;
  }
  return single;
}

// ---------------------------------------------------------------- data

async function fetchBytes(url) {
  const res = await fetch(url);
  if (!res.ok) {
    const e = new Error(`${url.replace(BASE.href, '')}: HTTP ${res.status}`);
    e.status = res.status;
    throw e;
  }
  return new Uint8Array(await res.arrayBuffer());
}

async function manifest(name) {
  if (!/^[A-Za-z0-9_-]+$/.test(name || '')) throw new Error(`bad dataset name ${JSON.stringify(name)}`);
  const url = new URL(`data/${name}/manifest.json`, BASE).href;
  const res = await fetch(url);
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`data/${name}/manifest.json: HTTP ${res.status}`);
  return res.json();
}

async function shardBytes(name, file) {
  const url = new URL(`data/${name}/${file}`, BASE).href;
  let bytes = shardCache.get(url);
  if (!bytes) {
    bytes = await fetchBytes(url);
    shardCache.set(url, bytes);
  }
  return bytes;
}

/** Fills one split of `eng` with the first `limit` images (0 = all) of dataset `name`. */
async function fillSplit(eng, name, man, split, limit) {
  const info = man.splits[split];
  if (!info) throw new Error(`dataset ${name} has no ${split} split`);
  eng.limitSplit(split, 0);
  let size = 0;
  for (const shard of info.shards) {
    if (limit > 0 && size >= limit) break;
    const bytes = await shardBytes(name, shard.file);
    size = eng.addShard(split, bytes);
  }
  if (limit > 0 && size > limit) {
    eng.limitSplit(split, limit);
    size = limit;
  }
  return size;
}

let manifests = new Map();

async function loadDataset({ name = 'mnist', splits = { test: 0 }, ensure = false } = {}) {
  const eng = requireEngineOrPlaceholder();
  if (dataset.name && dataset.name !== name) requireIdle('switch datasets');
  let man = manifests.get(name);
  if (!man) {
    man = await manifest(name);
    if (!man) throw new Error(`dataset ${name} is not available (data/${name}/manifest.json is missing)`);
    manifests.set(name, man);
  }
  if (dataset.name !== name) {
    for (const s of Object.keys(dataset.sizes)) eng.limitSplit(s, 0);
    dataset = { name, sizes: {}, requested: {} };
  }
  for (const [split, limit] of Object.entries(splits)) {
    if (ensure && dataset.sizes[split] > 0) continue; // `ensure`: only fill empty splits
    if (dataset.requested[split] === (Number(limit) || 0) && dataset.sizes[split] > 0) continue; // already as asked
    if (split === 'train') requireIdle('change the training set');
    dataset.sizes[split] = await fillSplit(eng, name, man, split, Number(limit) || 0);
    dataset.requested[split] = Number(limit) || 0;
  }
  postStatus();
  return { name, sizes: { ...dataset.sizes } };
}

/** Data can be loaded before any model exists: it then goes into a placeholder tiny engine
 * that is not reported as a model (modelName stays null, `engine` stays null). */
let placeholder = null;
function requireEngineOrPlaceholder() {
  if (engine) return engine;
  if (!placeholder) placeholder = new wasm.Engine('tiny', 1, '');
  return placeholder;
}

/** Puts a weights file into the engine holding the data (keeping that data). */
function loadInto(bytes, name) {
  const host = engine || placeholder;
  if (host) {
    host.loadWeights(bytes); // throws on a bad file, keeping the current model
    engine = host;
    placeholder = null;
    modelName = name;
  } else {
    engine = wasm.Engine.fromWeights(bytes);
    modelName = name;
  }
}

async function loadWeights({ url, bytes, name, optional = false } = {}) {
  requireIdle('load weights');
  if (url) {
    const full = new URL(url, BASE).href;
    try {
      bytes = await fetchBytes(full);
    } catch (e) {
      if (optional && e.status === 404) return { loaded: false, reason: `${url} does not exist` };
      throw e;
    }
    name = name || url.split('/').pop();
  }
  if (!bytes || !bytes.length) throw new Error('the weights file is empty');
  bytes = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  try {
    loadInto(bytes, name || 'weights');
  } catch (e) {
    throw new Error(`${name || 'the file'} is not a valid pff weights file: ${e.message}${engine ? ' (the current model is kept)' : ''}`);
  }
  postStatus();
  return { loaded: true, info: status().model };
}

function newModel({ preset = 'tiny', seed = 1, overrides = {} } = {}) {
  requireIdle('start a new model');
  const json = overrides && Object.keys(overrides).length ? JSON.stringify(overrides) : '';
  const fresh = new wasm.Engine(preset, seed >>> 0, json);
  const host = engine || placeholder;
  if (host) {
    // keep the loaded data: move the fresh model into the engine that holds it
    const bytes = fresh.exportWeights(false);
    fresh.free();
    host.loadWeights(bytes);
    engine = host;
    placeholder = null;
  } else {
    engine = fresh;
  }
  modelName = `new, seed ${seed}`;
  postStatus();
  return status().model;
}

// ---------------------------------------------------------------- training

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function train({ epochs = 1, maxBatches = 0, lr, devLimit = 2000, batchesPerChunk, fitPrior: refit = true } = {}) {
  const eng = requireEngine();
  requireIdle('start another training run');
  if (!eng.splitSize('train')) throw new Error('no training data loaded');
  if (lr !== undefined && lr !== null && lr !== '') eng.setLearningRate(Number(lr));
  if (dataset.name) eng.setDatasetName(dataset.name); // recorded in exported weights
  const run = { paused: false, stop: false, wake: null };
  training = run;
  postStatus();
  const t0 = performance.now();
  let pausedMs = 0;
  const start = eng.info();
  const bs = start.config.batch_size;
  const targetEpoch = start.epoch + Math.max(1, epochs | 0);
  let perEpoch = Math.ceil(eng.splitSize('train') / bs);
  const total = () => (maxBatches > 0 ? Math.min(maxBatches, (targetEpoch - start.epoch) * perEpoch - start.batch) : (targetEpoch - start.epoch) * perEpoch - start.batch);
  let done = 0;
  let samples = 0;
  let chunk = batchesPerChunk || 1;
  let pending = [];
  let lastPost = 0;
  let devAccuracy = null;
  const losses = [];
  let lastBatch = null;
  let epoch = start.epoch;
  let batch = start.batch;
  const report = (extra = {}) => {
    const elapsed = (performance.now() - t0 - pausedMs) / 1000;
    const rate = elapsed > 0 ? samples / elapsed : 0;
    const left = Math.max(0, total() - done);
    postMessage({
      event: 'progress',
      phase: run.stop ? 'stopping' : run.paused ? 'paused' : 'training',
      epoch,
      epochs: targetEpoch,
      startEpoch: start.epoch,
      batch,
      batchesPerEpoch: perEpoch,
      done,
      total: total(),
      fraction: total() ? done / total() : 1,
      samplesPerSec: rate,
      etaSec: rate > 0 ? (left * bs) / rate : null,
      elapsedSec: elapsed,
      threads: runtime.threads,
      batches: pending,
      devAccuracy,
      ...extra,
    });
    pending = [];
    lastPost = performance.now();
  };
  try {
    report();
    while (!run.stop && epoch < targetEpoch && !(maxBatches > 0 && done >= maxBatches)) {
      if (run.paused) {
        report();
        const p0 = performance.now();
        await new Promise((r) => (run.wake = r));
        pausedMs += performance.now() - p0;
        continue;
      }
      const c0 = performance.now();
      const r = eng.trainBatches(maxBatches > 0 ? Math.min(chunk, maxBatches - done) : chunk);
      const ms = performance.now() - c0;
      perEpoch = r.batchesPerEpoch;
      for (const b of r.batches) {
        done += 1;
        samples += b.samples;
        lastBatch = b;
        pending.push(b);
        losses.push(b);
      }
      if (!batchesPerChunk && r.batches.length) {
        const per = ms / r.batches.length;
        chunk = Math.max(1, Math.min(64, Math.round(150 / Math.max(per, 1))));
      }
      const epochEnd = r.epoch !== epoch;
      epoch = r.epoch;
      batch = r.batch;
      if (epochEnd) {
        if (eng.splitSize('dev')) {
          const ev = eng.evaluate('dev', devLimit || 0);
          devAccuracy = ev.accuracy;
        }
        report({ epochEnd: true, finishedEpoch: epoch });
      } else if (performance.now() - lastPost >= 250) {
        report();
      }
      await sleep(0); // let queued messages (classify, pause, stop ...) run
    }
    if (refit && eng.splitSize('train')) {
      report({ phase: 'fitting prior' });
      await sleep(0);
      try {
        eng.fitPrior('train', 2000, eng.info().config.prior_components, 1);
      } catch (e) {
        log('warn', `could not fit the generative prior: ${e.message}`);
      }
    }
  } finally {
    training = null;
  }
  const seconds = (performance.now() - t0 - pausedMs) / 1000;
  modelName = `trained in this page, epoch ${epoch}`;
  report({ phase: run.stop ? 'stopped' : 'done' });
  postStatus();
  return {
    stopped: run.stop,
    epochs: epoch - start.epoch,
    epoch,
    batches: done,
    samples,
    seconds,
    samplesPerSec: seconds > 0 ? samples / seconds : 0,
    devAccuracy,
    lastBatch,
    firstLosses: losses.slice(0, 5),
    lastLosses: losses.slice(-5),
  };
}

function control(type) {
  if (!training) return { state: 'idle' };
  if (type === 'pause') training.paused = true;
  if (type === 'resume' || type === 'stop') {
    if (type === 'stop') training.stop = true;
    training.paused = false;
    if (training.wake) {
      const w = training.wake;
      training.wake = null;
      w();
    }
  }
  postStatus();
  return { state: training.stop ? 'stopping' : training.paused ? 'paused' : 'running' };
}

// ---------------------------------------------------------------- inference helpers

function pixelsOf(payload) {
  const p = payload && payload.pixels;
  if (!p) throw new Error('missing pixels');
  return p instanceof Float32Array ? p : Float32Array.from(p);
}

function argmax(a) {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timeIt(fn, reps, budgetMs) {
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

function randomMatrix(n, seed) {
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

function naiveMatmul(a, b, m, k, n) {
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++)
    for (let p = 0; p < k; p++) {
      const v = a[i * k + p];
      for (let j = 0; j < n; j++) c[i * n + j] += v * b[p * n + j];
    }
  return c;
}

function maxDiff(x, y) {
  let d = 0;
  for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
  return d;
}

async function matmulCheck({ m = 64, k = 96, n = 80, seed = 7 } = {}) {
  const a = randomMatrix(m * k, seed);
  const b = randomMatrix(k * n, seed + 1);
  const t = performance.now();
  const c = wasm.matmul(a, b, m, k, n);
  const ms = performance.now() - t;
  const naive = naiveMatmul(a, b, m, k, n);
  let maxDiffSingle = null;
  if (runtime.mode === 'threads') {
    const s = await loadSingle();
    maxDiffSingle = maxDiff(c, s.matmul(a, b, m, k, n));
  }
  return { mode: runtime.mode, threads: wasm.threadCount(), m, k, n, maxDiffNaive: maxDiff(c, naive), maxDiffSingle, ms, length: c.length };
}

async function bench(p = {}) {
  const out = { mode: runtime.mode, threads: wasm.threadCount(), version: runtime.version, matmul: [] };
  const shapes = p.shapes || [[1000, 784, 500], [1000, 500, 500], [512, 784, 2000], [1000, 2000, 2000]];
  const budget = p.budgetMs || 20000; // per shape
  let rate = null; // GFLOP/s seen so far, to time-box the larger shapes
  for (const [m, k, n] of shapes) {
    const flop = 2 * m * k * n;
    const reps = p.reps || 3;
    if (rate && (flop / (rate * 1e9)) * 1000 * (reps + 1) > budget) {
      out.matmul.push({ m, k, n, skipped: `would take about ${Math.round((flop / (rate * 1e9)) * (reps + 1))} s` });
      continue;
    }
    const t = performance.now();
    const gflops = wasm.benchMatmul(m, k, n, reps);
    out.matmul.push({ m, k, n, gflops, ms: performance.now() - t });
    rate = rate ? Math.min(rate, gflops) : gflops;
    await sleep(0);
  }
  const eng = requireEngine();
  out.model = status().model;
  let img = new Float32Array(784);
  if (eng.splitSize('test')) img = Float32Array.from(eng.images('test', 0, 1).pixels, (v) => v / 255);
  if (p.classify !== false) {
    eng.classify(img);
    out.classify = timeIt(() => eng.classify(img), p.latencyReps || 20, 5000);
    out.classifyMs = out.classify.ms;
  }
  if (p.settle !== false) {
    eng.settle(img, 0);
    out.settle = timeIt(() => eng.settle(img, 0), p.latencyReps || 10, 5000);
    out.settleMs = out.settle.ms;
  }
  if (p.dream !== false) {
    if (!eng.hasPrior()) {
      if (!eng.splitSize('train')) throw new Error('bench: a prior is needed and no training data is loaded');
      const t = performance.now();
      eng.fitPrior('train', 2000, eng.info().config.prior_components, 1);
      out.fitPriorMs = performance.now() - t;
    }
    eng.sample(100, -1, 1);
    out.dream = timeIt((i) => eng.sample(100, -1, i + 2), 5, 5000);
    out.dream100Ms = out.dream.ms;
  }
  if (p.train) {
    // trains a copy, so the benchmark leaves the current model as it was
    const copy = wasm.Engine.fromWeights(eng.exportWeights(false));
    try {
      const man = manifests.get(dataset.name || 'mnist') || (await manifest(dataset.name || 'mnist'));
      const bs = copy.info().config.batch_size;
      await fillSplit(copy, dataset.name || 'mnist', man, 'train', Math.max(bs * (p.train + 1), 1000));
      copy.trainBatches(1); // warm-up
      const t = performance.now();
      const r = copy.trainBatches(p.train);
      const s = (performance.now() - t) / 1000;
      const n = r.batches.reduce((a, b) => a + b.samples, 0);
      out.trainBatches = r.batches.length;
      out.trainSamplesPerSec = n / s;
    } finally {
      copy.free();
    }
  }
  return out;
}

// ---------------------------------------------------------------- dispatch

const handlers = {
  init,
  status: () => status(),
  info: () => (engine ? { ...engine.info(), status: status() } : { model: null, status: status() }),
  manifest: ({ name }) => manifest(name),
  loadDataset,
  addShard: ({ split = 'test', bytes }) => {
    requireIdle('change the data');
    const eng = requireEngineOrPlaceholder();
    const size = eng.addShard(split, bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
    dataset.sizes[split] = size;
    dataset.requested[split] = -1; // no longer what a manifest request gave
    postStatus();
    return { split, size };
  },
  loadWeights,
  exportWeights: ({ half = false } = {}) => ({ bytes: requireEngine().exportWeights(!!half) }),
  newModel,
  classify: (p) => {
    const r = requireEngine().classify(pixelsOf(p));
    return { ...r, forwardPrediction: argmax(r.forward) };
  },
  classifyBatch: (p) => ({ predictions: requireEngine().classifyBatch(pixelsOf(p)) }),
  settle: (p) => requireEngine().settle(pixelsOf(p), p.label | 0),
  sample: ({ n = 100, component = -1, seed = 1 } = {}) => requireEngine().sample(n, component, seed >>> 0),
  fitPrior: ({ split = 'train', limit = 2000, components, seed = 1 } = {}) => {
    const eng = requireEngine();
    const r = eng.fitPrior(split, limit, components || eng.info().config.prior_components, seed);
    postStatus();
    return r;
  },
  priorInfo: () => (requireEngine().hasPrior() ? engine.priorInfo() : null),
  latents: (p) => {
    const px = pixelsOf(p);
    const z = requireEngine().latents(px);
    return { latents: z, dim: z.length / (px.length / 784) };
  },
  decode: ({ latents }) => ({ images: requireEngine().decode(latents instanceof Float32Array ? latents : Float32Array.from(latents)) }),
  evaluate: ({ split = 'test', limit = 0 } = {}) => requireEngine().evaluate(split, limit),
  images: ({ split = 'test', start = 0, count = 1 } = {}) => requireEngineOrPlaceholder().images(split, start, count),
  train,
  pause: () => control('pause'),
  resume: () => control('resume'),
  stop: () => control('stop'),
  matmulCheck,
  bench,
  crash: () => {
    setTimeout(() => {
      throw new Error('deliberate crash (test hook)');
    });
    return { crashing: true };
  },
};

function transferables(result) {
  const seen = new Set();
  const visit = (v, depth) => {
    if (!v || typeof v !== 'object' || depth > 3) return;
    if (ArrayBuffer.isView(v)) {
      if (v.buffer instanceof ArrayBuffer && v.byteOffset === 0 && v.byteLength === v.buffer.byteLength) seen.add(v.buffer);
      return;
    }
    for (const x of Array.isArray(v) ? v : Object.values(v)) visit(x, depth + 1);
  };
  visit(result, 0);
  return [...seen];
}

self.onmessage = async (e) => {
  const { id, type, payload } = e.data || {};
  try {
    const h = handlers[type];
    if (!h) throw new Error(`unknown request type ${JSON.stringify(type)}`);
    if (!wasm && type !== 'init') await init();
    const result = await h(payload || {});
    postMessage({ id, ok: true, result }, transferables(result));
  } catch (err) {
    const message = err && err.message ? err.message : String(err);
    postMessage({ id, ok: false, error: message });
    if (err instanceof WebAssembly.RuntimeError) {
      // a trap (Rust panic): the instance may be inconsistent; ask the page for a fresh worker
      postMessage({ event: 'fatal', message: `the engine trapped during ${type}: ${message}` });
    }
  }
};
