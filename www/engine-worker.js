// @ts-check
// The engine worker: the only code of the page that touches WebAssembly. It starts a build
// (wasm-build.js), holds the core handles (the current DatasetStore and one per other dataset
// it was asked about, holding that dataset's manifest; the Model; the Run), dispatches the
// page's messages to them and forwards a run's progress. Every rule (presets, limits, what a
// run does, how data is checked, what a model is called) is the core's; this file only moves
// bytes and messages.
// The messages are declared in protocol.js.

import { SITE, startBuild } from './wasm-build.js';

/** @typedef {import('./protocol.js').Requests} Requests */
/** @typedef {import('./protocol.js').Wasm} Wasm */

let wasm = /** @type {Wasm|null} */ (null);
/** @type {import('./protocol.js').Runtime} */
let runtime = { mode: 'single', build: 'single', simd: 'simd128', threads: 1, reason: '', version: '', gpu: null };
let store = /** @type {import('pff-wasm').DatasetStore|null} */ (null); // the current dataset's (empty before one)
/** Stores holding only the manifest of a dataset the page asked about (`offer`) or left, until `loadDataset` takes one. @type {Map<string, Promise<import('pff-wasm').DatasetStore>>} */
const offered = new Map();
let model = /** @type {import('pff-wasm').Model|null} */ (null); // for inference, or null
let map = /** @type {import('pff-wasm').MapRun|null} */ (null); // the t-SNE map the Dream panel is drawing, or null
/** @type {{run: import('pff-wasm').Run, state: 'running'|'paused'|'stopping', wake: (() => void)|null} | null} */
let training = null;
/** The run's step in flight (the GPU build's steps are Promises, holding the store meanwhile). @type {Promise<unknown>} */
let stepping = Promise.resolve();

const post = (/** @type {import('./protocol.js').WorkerMessage} */ msg) => postMessage(msg);
const log = (/** @type {'info'|'warn'|'error'} */ level, /** @type {string} */ message) => post({ event: 'log', level, message });

/** The engine, once `init` has started a build. */
function engine() {
  if (!wasm || !store) throw fail('internal', 'the engine has not started');
  return { wasm, store };
}

/** An error the page can act on: `kind` is the core's (or the worker's own `busy`/`http`). */
function fail(/** @type {string} */ kind, /** @type {string} */ message) {
  return Object.assign(new Error(message), { kind });
}

/** @returns {import('./protocol.js').Status} */
function status() {
  return {
    ...runtime,
    model: model && store ? { ...model.info(), class_names: model.classNames(store), noun: model.noun(store) } : null,
    dataset: store
      ? { name: store.name() ?? null, title: store.title() ?? null, classes: store.classNames(), noun: store.noun(), sizes: store.sizes() }
      : { name: null, title: null, classes: [], noun: null, sizes: {} },
    training: training ? training.state : 'idle',
  };
}

const postStatus = () => post({ event: 'status', status: status() });

function needModel() {
  if (!model) throw fail('bad-input', 'no model is loaded: load weights or train a model first');
  return model;
}

function needIdle(/** @type {string} */ what) {
  if (training) throw fail('busy', `cannot ${what} while training runs: stop training first`);
}

async function fetchBytes(/** @type {string} */ path) {
  const res = await fetch(new URL(path, SITE).href);
  if (!res.ok) throw Object.assign(fail('http', `${path}: HTTP ${res.status}`), { status: res.status });
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * The store of dataset `name`: the current one, or one holding only its manifest, fetched once
 * and checked by the core (throws `corrupt-data` naming the file, or `http`).
 */
async function storeOf(/** @type {string} */ name) {
  const { wasm, store } = engine();
  if (store.name() === name) return store;
  let opened = offered.get(name);
  if (!opened) {
    opened = fetchBytes(`data/${name}/manifest.json`).then((bytes) => {
      const s = new wasm.DatasetStore();
      try {
        s.setManifest(name, bytes);
        return s;
      } catch (e) {
        s.free();
        throw e;
      }
    });
    offered.set(name, opened);
    const asked = opened;
    asked.catch(() => offered.get(name) === asked && offered.delete(name)); // asked again, it is fetched again
  }
  return opened;
}

/**
 * Loads splits of a dataset into the store, each shard checked by the core before use: the
 * images `splits` names, or those the core says a run of `run` reads.
 */
async function loadDataset(/** @type {Requests['loadDataset']['payload']} */ { name, splits, run }) {
  if (engine().store.name() !== name) {
    needIdle('switch datasets');
    const next = await storeOf(name);
    needIdle('switch datasets');
    const left = engine().store; // not freed here: a load still in flight may hold it
    if (left !== next) {
      const leftName = left.name();
      if (leftName) offered.set(leftName, Promise.resolve(left.emptyCopy())); // its manifest, without its shards
      offered.delete(name);
      store = next;
    }
  }
  const loaded = engine().store;
  /** @type {Record<string, number>} */
  const wanted = run ? loaded.runReads(run) : splits || {};
  for (const [split, want] of Object.entries(wanted)) {
    if (split === 'train') needIdle('change the training set');
    for (let file = loaded.nextShard(split, want); file; file = loaded.nextShard(split, want)) {
      const bytes = await fetchBytes(`data/${name}/${file}`);
      await stepping; // a GPU step in flight reads the store
      loaded.addShard(split, file, bytes);
    }
  }
  postStatus();
  return { name, sizes: loaded.sizes() };
}

async function loadWeights(/** @type {Requests['loadWeights']['payload']} */ { url, bytes, name, optional = false }) {
  needIdle('load weights');
  if (url) {
    try {
      bytes = await fetchBytes(url);
    } catch (e) {
      if (optional && httpStatus(e) === 404) return { loaded: false, reason: `${url} does not exist`, model: null };
      throw e;
    }
  }
  const next = engine().wasm.Model.fromWeights(bytes || new Uint8Array(), name, url); // throws bad-weights; the current model stays
  if (model) model.free();
  model = next;
  postStatus();
  return { loaded: true, model: status().model };
}

/** Runs a core training run in steps, answering other messages between them. */
async function train(/** @type {Requests['train']['payload']} */ { request, from }) {
  needIdle('start another training run');
  const { wasm, store } = engine();
  const run = from === 'current' ? wasm.Run.continuing(needModel(), request, store) : new wasm.Run(request, store);
  /** @type {NonNullable<typeof training>} */
  const t = { run, state: 'running', wake: null };
  training = t;
  postStatus();
  /** The GPU build's run: moved onto the adapter (a run it cannot train stays on the CPU, and the log says why). */
  const onGpu = /** @type {{useGpu?: () => Promise<void>}} */ (/** @type {unknown} */ (run));
  if (onGpu.useGpu) {
    try {
      await onGpu.useGpu();
    } catch (e) {
      log('warn', `training on the CPU: ${e instanceof Error ? e.message : e}`);
    }
  }
  /** One step of the run, awaited (a Promise in the GPU build, a value in the others). @param {() => unknown} f */
  const step = async (f) => {
    const p = Promise.resolve().then(f);
    stepping = p.catch(() => {});
    return p;
  };
  const t0 = performance.now();
  let stopped = false;
  let speed = 0; // positive samples per second so far, from the core's pacer
  try {
    while (!run.isDone()) {
      if (t.state === 'paused') {
        post({ event: 'progress', phase: 'paused' });
        await new Promise((r) => (t.wake = () => r(undefined)));
        continue;
      }
      if (t.state === 'stopping' && !stopped) {
        await step(() => run.stop(store));
        stopped = true;
      }
      const p = /** @type {import('./protocol.js').Progress} */ (await step(() => run.step(store))); // about 150 ms of work, paced by the core (run::Pacer)
      speed = p.samples_per_s ?? speed;
      if (p.epoch_end) replaceModel(run.currentModel()); // named by the core, as every model of a run
      if (p.report) post({ event: 'progress', ...p, samples_per_s: speed, threads: runtime.threads });
      await new Promise((r) => setTimeout(r, 0)); // let queued messages (classify, pause, stop…) run
    }
    replaceModel(run.bestModel());
    return { stopped: t.state === 'stopping', history: run.history(), seconds: (performance.now() - t0) / 1000, samples_per_s: speed, model: status().model };
  } catch (e) {
    // a NaN (or any failure) ends the run; the best model so far stays, and the page says so
    replaceModel(run.bestModel()); // the core names it: "… until it failed"
    throw e;
  } finally {
    training = null;
    run.free();
    postStatus();
  }
}

/** Frees the map in progress, if any; whether there was one. */
function dropMap() {
  const had = !!map;
  if (map) map.free();
  map = null;
  return had;
}

function replaceModel(/** @type {import('pff-wasm').Model|undefined} */ next) {
  if (!next) return;
  dropMap();
  if (model) model.free();
  model = next;
  postStatus();
}

function control(/** @type {'pause'|'resume'|'stop'} */ type) {
  const t = training;
  if (!t) return { state: 'idle' };
  t.state = type === 'pause' ? 'paused' : type === 'stop' ? 'stopping' : 'running';
  if (type !== 'pause' && t.wake) {
    const wake = t.wake;
    t.wake = null;
    wake();
  }
  postStatus();
  return { state: t.state };
}

/** The status of an HTTP failure (fetchBytes), else 0. @param {unknown} e */
const httpStatus = (e) => (e instanceof Error && 'status' in e && typeof e.status === 'number' ? e.status : 0);

/** @typedef {{[K in keyof Requests]: (payload: Requests[K]['payload']) => Requests[K]['result'] | Promise<Requests[K]['result']>}} Handlers */

/** The test hooks: a page opened with `?test` (the e2e tests) starts its worker with them. @type {Pick<Handlers, 'memory'|'crash'>} */
const testHooks = {
  memory: () => ({ wasm_bytes: engine().wasm.memoryBytes() }),
  crash: () => {
    setTimeout(() => {
      throw new Error('deliberate crash (test hook)');
    });
    return { crashing: true };
  },
};

/** @type {Partial<Handlers>} */
const handlers = {
  init: async ({ mode = 'auto', test = false }) => {
    if (wasm) return runtime;
    const started = await startBuild(mode);
    wasm = started.wasm;
    runtime = started.runtime;
    store = new wasm.DatasetStore(); // empty until a dataset is loaded
    if (test) Object.assign(handlers, testHooks);
    if (started.warning) log('warn', started.warning);
    return runtime;
  },
  catalog: async () => {
    const { wasm } = engine();
    const file = wasm.siteFile();
    const res = await fetch(new URL(file, SITE).href);
    if (res.status === 404) return wasm.catalog(undefined); // a plain copy of www/: the repository's site
    if (!res.ok) throw fail('http', `${file}: HTTP ${res.status}`);
    return wasm.catalog(await res.text()); // throws a config error naming what is wrong with the file
  },
  offer: async ({ name }) => {
    try {
      return (await storeOf(name)).offer(); // the store that will load its shards answers
    } catch (e) {
      if (httpStatus(e) === 404) return null; // not served here
      throw e;
    }
  },
  status: () => status(),
  loadDataset,
  loadWeights,
  exportWeights: ({ half = false }) => ({ bytes: needModel().exportWeights(!!half) }),
  classify: ({ pixels }) => needModel().classify(pixels),
  settle: ({ pixels, label }) => needModel().settle(pixels, label),
  dream: ({ n, component = -1, seed }) => needModel().dream(n, component, seed >>> 0),
  interpolate: ({ frames, seed }) => needModel().interpolate(frames, seed >>> 0),
  latentMap: ({ split, start, count }) => needModel().latentMap(engine().store, split, start, count),
  mapStart: ({ split, start, count, seed = 1 }) => {
    dropMap();
    const started = needModel().tsneMap(engine().store, split, start, count, seed >>> 0);
    map = started;
    return started.start();
  },
  mapStep: ({ iterations }) => {
    if (!map) throw fail('bad-input', 'no map is being drawn');
    return map.step(iterations);
  },
  mapDrop: () => ({ dropped: dropMap() }),
  evaluate: ({ split, limit = 0 }) => needModel().evaluate(engine().store, split, limit),
  images: ({ split, start, count }) => engine().store.images(split, start, count),
  fitPrior: ({ split, limit }) => {
    needModel().fitPrior(engine().store, split, limit);
    postStatus();
    return status().model;
  },
  train,
  pause: () => control('pause'),
  resume: () => control('resume'),
  stop: () => control('stop'),
};

/** What an error says, of what kind and about which file, whatever was thrown. @param {unknown} err @returns {import('./protocol.js').ErrorInfo} */
function errorInfo(err) {
  /** @param {string} k */
  const field = (k) => (err && typeof err === 'object' && k in err ? /** @type {Record<string, unknown>} */ (err)[k] : undefined);
  const kind = field('kind');
  const message = field('message');
  const file = field('file');
  return {
    kind: typeof kind === 'string' ? kind : 'internal',
    message: typeof message === 'string' ? message : String(err),
    file: typeof file === 'string' ? file : undefined,
  };
}

self.onmessage = async (/** @type {MessageEvent<import('./protocol.js').Request>} */ e) => {
  const { id, type, payload } = e.data || {};
  try {
    const h = /** @type {((p: unknown) => unknown) | undefined} */ (Object.hasOwn(handlers, type) ? handlers[type] : undefined);
    if (!h) throw fail('bad-input', `unknown request type ${JSON.stringify(type)}`);
    if (!wasm && type !== 'init') await /** @type {Handlers['init']} */ (handlers.init)({});
    if (/^(images|evaluate|latentMap|mapStart|fitPrior)$/.test(type) && !engine().store.name()) throw fail('bad-input', 'no dataset is loaded');
    const result = await h(payload || {});
    post({ id, ok: true, result });
  } catch (err) {
    const info = errorInfo(err);
    post({ id, ok: false, error: info });
    if (err instanceof WebAssembly.RuntimeError) post({ event: 'fatal', message: `the engine trapped during ${type}: ${info.message}` });
  }
};
