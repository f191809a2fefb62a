// @ts-check
// Wiring: starts the engine, fills the page's state (session.js) from it, owns the tabs and the
// status line, and gives the views one object (`app`) to reach the engine and the state. Each
// panel lives in its own module.

import { Engine, errorInfo } from './engine.js';
import { $, $$ } from './dom.js';
import { DrawView } from './draw-view.js';
import { SettleView } from './settle-view.js';
import { DreamView } from './dream-view.js';
import { TrainView } from './train-view.js';
import { DataView } from './data-view.js';
import { WeightsView } from './weights-view.js';
import { session } from './session.js';
import { runtimeLabel, wantedBuild } from './wasm-build.js';

/** @typedef {import('./session.js').PanelName} PanelName */
/** @typedef {import('./protocol.js').Status} Status */

const PANELS = /** @type {const} */ (['draw', 'settle', 'dream', 'train', 'data', 'weights']);
/** @param {string} name @returns {name is PanelName} */
const isPanel = (name) => /** @type {readonly string[]} */ (PANELS).includes(name);

/** @type {(booted: boolean) => void} */
let resolveBooted = () => {};
/** @type {(ready: boolean) => void} */
let resolveReady = () => {};
/** What the tests and the console see: `window.pff` (this app), `pffBooted`, `pffReady`. */
const global = /** @type {Window & {pff?: App, pffBooted?: Promise<boolean>, pffReady?: Promise<boolean>}} */ (window);
global.pffReady = new Promise((r) => (resolveReady = r));
global.pffBooted = new Promise((r) => (resolveBooted = r));

// the app's own bookkeeping (not the views')
let ready = false;
/** @type {string|null} the dataset being loaded to match the model */
let followingDataset = null;
/** @type {string|null} the model whose dataset was last matched */
let followedModel = null;
/** @type {string|null} the model last kept for a restart */
let keptModel = null;
/** @type {Promise<void>|null} the test images on their way (app.testSize) */
let loadingTest = null;

const { state } = session;

/** The views, once built (boot). */
const views = /** @type {{draw: DrawView, settle: SettleView, dream: DreamView, train: TrainView, data: DataView, weights: WeightsView}} */ ({});

const app = {
  /** @type {Engine|null} */
  engine: null,
  /** @type {import('./protocol.js').Catalog|null} the core's catalog (presets, defaults, limits), fetched once at start */
  catalog: null,
  session,
  /** The page's state, read-only (session.js changes it). */
  state,
  on: session.on,
  views,
  /**
   * A request to the engine worker, typed by protocol.js.
   * @template {keyof import('./protocol.js').Requests} K
   * @param {K} type
   * @param {import('./protocol.js').Requests[K]['payload']} payload
   * @param {Transferable[]} [transfer]
   * @returns {Promise<import('./protocol.js').Requests[K]['result']>}
   */
  call(type, payload, transfer = undefined) {
    if (!app.engine) return Promise.reject(new Error('the engine is not running yet'));
    return app.engine.call(type, payload, transfer);
  },
  /** The catalog (the views are used only after boot has it). */
  cat() {
    if (!app.catalog) throw new Error('pff: the catalog has not arrived');
    return app.catalog;
  },
  /** The images' shape (the core's), or null before the catalog has arrived. */
  image() {
    return app.catalog ? app.catalog.image : null;
  },
  /** The name of class `c` of the loaded model (its number when no model is loaded). @param {number} c */
  className(c) {
    const m = state.status && state.status.model;
    return m && m.class_names[c] !== undefined ? m.class_names[c] : String(c);
  },
  /** The loaded model's class names (the ten digits when no model is loaded). */
  classNames() {
    const m = state.status && state.status.model;
    return m ? m.class_names : [...Array(DEFAULT_CLASSES).keys()].map(String);
  },
  /** Whether the classes are named 0, 1, … (MNIST-like), so their names are their numbers. */
  digits() {
    return app.classNames().every((n, i) => n === String(i));
  },
  /**
   * What one image shows, in the core's words for the loaded model's dataset (its manifest's
   * noun: `digit` for MNIST, `item` for Fashion-MNIST), else for the loaded dataset.
   * @returns {import('./protocol.js').Noun}
   */
  noun() {
    const s = state.status;
    return (s && s.model && s.model.noun) || (s && s.dataset.noun) || { one: 'image', many: 'images' };
  },
  /** Sets the input the panels work on. @param {Float32Array|null} pixels @param {import('./session.js').InputSource} [source] */
  setInput(pixels, source = { kind: 'draw' }) {
    session.setInput(pixels, source);
  },
  /** @param {PanelName} panel */
  show(panel) {
    showPanel(panel);
  },
  /** A line in the status bar. @param {string} text @param {'info'|'ok'|'warn'|'error'} [level] */
  message(text, level = 'info') {
    const el = $('#message');
    el.textContent = text;
    el.className = `message ${level}`;
    if (level === 'error') session.noteError(text);
  },
  /** The model changed (new, loaded, trained): refresh the status and tell the views. @param {string} [why] */
  async modelChanged(why = 'model') {
    try {
      statusArrived(await app.call('status', {}));
    } catch (_) {
      /* a crash is reported elsewhere */
    }
    session.modelChanged(why);
  },
  /**
   * The number of test images of the current dataset, loading them the first time a view needs
   * them (so that a first visit downloads only the page, the engine and the model). 0 when
   * they cannot be loaded: the reason is on the status line and in `state.dataError`.
   */
  async testSize() {
    const sizes = () => (state.status && state.status.dataset.sizes.test) || 0;
    if (sizes() || !state.status || !state.status.dataset.name) return sizes();
    if (!loadingTest) {
      const name = state.status.dataset.name;
      loadingTest = app
        .call('loadDataset', { name, splits: { test: 0 } })
        .then(async () => {
          session.setDataError(null);
          statusArrived(await app.call('status', {}));
        })
        .catch((err) => {
          // a shard that fails its sha256 check is named and none of it is used; the rest works
          const e = errorInfo(err);
          const what = e.kind === 'corrupt-data' ? `a data file failed its check (${e.file})` : 'they could not be loaded';
          app.message(`The ${name} test images are not available: ${what}. ${e.message}`, 'error');
          session.setDataError({ kind: e.kind, file: e.file || null, message: e.message });
        })
        .finally(() => {
          loadingTest = null;
        });
    }
    await loadingTest;
    return sizes();
  },
  /** Keeps what is needed to bring the current model back after a worker crash. */
  async snapshot() {
    try {
      const { bytes } = await app.call('exportWeights', { half: false });
      session.setRestore({ bytes, name: state.status && state.status.model && state.status.model.name ? state.status.model.name : 'weights' });
    } catch (_) {
      /* no model */
    }
  },
};
global.pff = app;

/** The page's state and engine access, as the views see it. @typedef {typeof app} App */

/** The classes a page without a model or a dataset shows (MNIST's ten digits). */
const DEFAULT_CLASSES = 10;

// ------------------------------------------------------------------ status line

const capital = (/** @type {string} */ w) => w.charAt(0).toUpperCase() + w.slice(1);

/** Puts the dataset's noun into the page's fixed texts: `data-noun` = one | many | One | Many,
 * and `data-aria-words`, an aria-label with `{one}` and `{many}` in it. */
function applyWords() {
  const n = app.noun();
  for (const el of $$('[data-noun]')) {
    const form = el.dataset.noun || 'one';
    const word = form.toLowerCase() === 'one' ? n.one : n.many;
    el.textContent = form === 'One' || form === 'Many' ? capital(word) : word;
  }
  for (const el of $$('[data-aria-words]')) {
    el.setAttribute('aria-label', (el.dataset.ariaWords || '').replaceAll('{one}', n.one).replaceAll('{many}', n.many));
  }
}

/** Puts the images' shape (the core's) into the page's fixed texts: `data-image="size"` gets "cols×rows". */
function applyShape() {
  const shape = app.image();
  if (!shape) return;
  const size = `${shape.cols}×${shape.rows}`;
  for (const el of $$('[data-image="size"]')) el.textContent = size;
  for (const el of $$('[data-aria-image]')) el.setAttribute('aria-label', (el.dataset.ariaImage || '').replaceAll('{size}', size));
}

/** @param {number} n */
function fmtParams(n) {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${Math.round(n / 1e3)} k` : `${n}`;
}

/** @param {import('./protocol.js').Runtime} rt */
function renderRuntime(rt) {
  const el = $('#threads');
  const noGpu = rt.gpu_reason ? `; no GPU: ${rt.gpu_reason}` : '';
  if (rt.build === 'webgpu') {
    el.textContent = runtimeLabel(rt);
    el.className = 'badge threads-on';
    el.title = `GPU build: training and evaluation on WebGPU (${rt.gpu}), drawing on one CPU thread`;
  } else if (rt.mode === 'threads') {
    el.textContent = runtimeLabel(rt);
    el.className = 'badge threads-on';
    el.title = `${rt.build === 'relaxed' ? 'threaded, fused multiply-add' : 'threaded'} WebAssembly build (${rt.reason}${noGpu})`;
  } else {
    el.textContent = `${runtimeLabel(rt)}: ${rt.reason || 'single-thread build'}`;
    el.className = 'badge threads-off';
    el.title = `single-thread WebAssembly build${noGpu}`;
  }
}

/** A status from the engine: the status line, the model's dataset and a copy of a new model, then the views. @param {Status} s */
function statusArrived(s) {
  if (!s) return;
  const hadModel = state.hasModel;
  const m = s.model;
  const model = $('#model-status');
  model.textContent = m ? `model: ${m.config.preset} · ${m.name} · ${fmtParams(m.params)} parameters` : 'no model loaded';
  model.title = model.textContent;
  const data = $('#data-status');
  const parts = Object.entries(s.dataset.sizes)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`);
  data.textContent = s.dataset.name ? `${s.dataset.title}: ${parts.join(', ') || 'nothing loaded'}` : 'no data';
  if (s.training !== 'idle') data.textContent += ` · training ${s.training}`;
  // a newly loaded model brings the test images of its dataset (once: a dataset loaded later,
  // to train on, stays)
  const loaded = m ? `${m.name}|${m.params}|${m.meta.dataset}` : null;
  if (loaded !== followedModel && s.training === 'idle') {
    followedModel = loaded;
    if (m && m.meta.dataset && s.dataset.name && m.meta.dataset !== s.dataset.name) followModelDataset(m.meta.dataset);
  }
  // keep a copy of each new model, to bring it back if the worker crashes
  const key = m ? `${m.name}|${m.params}` : null;
  if (m && key !== keptModel && s.training === 'idle') {
    keptModel = key;
    const r = state.restore;
    if (!(r && 'url' in r && m.name === r.name)) app.snapshot();
  }
  session.setStatus(s);
  if (m && !hadModel) markReady();
  applyWords();
}

/** Loads the test images of the dataset a newly loaded model was trained on. @param {string} name */
async function followModelDataset(name) {
  if (followingDataset === name) return;
  followingDataset = name;
  try {
    await app.call('loadDataset', { name, splits: {} }); // its test images come when a view needs them
    session.modelChanged('dataset');
  } catch (e) {
    const title = state.status ? state.status.dataset.title : null;
    app.message(
      `This model was trained on ${name}, whose test images this site does not serve (${errorInfo(e).message}); the views keep the ${title} images.`,
      'warn',
    );
  } finally {
    followingDataset = null;
  }
}

function markReady() {
  if (ready) return;
  ready = true;
  document.body.dataset.ready = 'true';
  resolveReady(true);
}

// ------------------------------------------------------------------ tabs

/** @param {string} wanted @param {{focus?: boolean, updateHash?: boolean}} [options] */
function showPanel(wanted, { focus = false, updateHash = true } = {}) {
  const name = isPanel(wanted) && !$(`#tab-${wanted}`).hidden ? wanted : 'draw';
  // a control that opened another panel (Data's "Open in Draw") is hidden with its own: the
  // focus goes to the new panel's tab instead of falling to the page
  const from = document.activeElement;
  if (from && from.closest('[role="tabpanel"]') && !from.closest(`#panel-${name}`)) focus = true;
  for (const p of PANELS) {
    const tab = $(`#tab-${p}`);
    const on = p === name;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`#panel-${p}`).hidden = !on;
    if (on && focus) tab.focus();
  }
  if (updateHash && location.hash !== `#${name}`) history.replaceState(null, '', `#${name}`);
  session.setPanel(name);
  const v = views[name];
  if (v) v.show();
}

function setupTabs() {
  const tabs = $$('[role="tab"]');
  for (const t of tabs) {
    t.addEventListener('click', () => showPanel(t.dataset.panel || ''));
    t.addEventListener('keydown', (e) => {
      const shown = tabs.filter((x) => !x.hidden);
      const i = shown.indexOf(t);
      let j = null;
      if (e.key === 'ArrowRight') j = (i + 1) % shown.length;
      if (e.key === 'ArrowLeft') j = (i - 1 + shown.length) % shown.length;
      if (e.key === 'Home') j = 0;
      if (e.key === 'End') j = shown.length - 1;
      if (j !== null) {
        e.preventDefault();
        showPanel(shown[j].dataset.panel || '', { focus: true });
      }
    });
  }
  window.addEventListener('hashchange', () => showPanel(location.hash.slice(1), { updateHash: false }));
  /** @type {ReturnType<typeof setTimeout>|undefined} */
  let resizeTimer;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      const v = views[state.panel];
      if (v) v.show();
    }, 120);
  });
}

// ------------------------------------------------------------------ keyboard focus

/** Keeps the focused control clear of the sticky header: its height goes to --header-h (the
 * page's scroll-padding-top), and a control that still ends up under it is scrolled out. */
function setupFocus() {
  const header = $('header.top');
  const measure = () => document.documentElement.style.setProperty('--header-h', `${Math.ceil(header.getBoundingClientRect().height)}px`);
  measure();
  new ResizeObserver(measure).observe(header);
  document.addEventListener('focusin', (e) => {
    const el = e.target;
    if (!(el instanceof HTMLElement) || header.contains(el)) return;
    const below = header.getBoundingClientRect().bottom + 8;
    const top = el.getBoundingClientRect().top;
    if (top < below) window.scrollBy(0, top - below);
  });
}

// ------------------------------------------------------------------ boot

/** What the site sets (its site.json, through the core's catalog): the title, whether it trains. @param {import('./protocol.js').Catalog} cat */
function applySite(cat) {
  if (cat.title) {
    document.title = `${cat.title} · pff`;
    $('.brand h1').textContent = cat.title;
    $('.tagline').textContent = 'A Predictive Forward-Forward model, running in this page (made with pff)';
  }
  $('#tab-train').hidden = !cat.training;
  if (!cat.training && state.panel === 'train') showPanel('draw');
}

/** The catalog, the default dataset's manifest and a model: the default one, or after a crash the one the page had. */
async function loadDefaults({ restoring = false } = {}) {
  const eng = /** @type {Engine} */ (app.engine);
  if (eng.runtime) {
    session.setRuntime(eng.runtime);
    renderRuntime(eng.runtime);
  }
  const cat = await app.call('catalog', {});
  app.catalog = cat;
  applySite(cat);
  applyShape();
  const { default_dataset: dataset, pretrained_url: url, pretrained_name: name } = cat;
  try {
    // the manifest only: the test images come when a view first needs them (app.testSize)
    await app.call('loadDataset', { name: dataset, splits: {} });
  } catch (err) {
    const e = errorInfo(err);
    app.message(`The ${dataset} dataset is not available: ${e.message}`, 'error');
    session.setDataError({ kind: e.kind, file: e.file || null, message: e.message });
  }
  const restore = restoring ? state.restore : null;
  if (restore && 'bytes' in restore) {
    await app.call('loadWeights', { bytes: restore.bytes.slice(), name: restore.name });
  } else {
    const r = await app.call('loadWeights', { url, optional: true, name });
    session.setPretrainedAvailable(r.loaded);
    if (r.loaded) session.setRestore({ url, name });
  }
  statusArrived(await app.call('status', {}));
}

async function boot() {
  setupTabs();
  setupFocus();
  views.draw = new DrawView(app);
  views.settle = new SettleView(app);
  views.dream = new DreamView(app);
  views.train = new TrainView(app);
  views.data = new DataView(app);
  views.weights = new WeightsView(app);
  showPanel(location.hash.slice(1) || 'draw', { updateHash: false });
  try {
    // ?build=threads|single (or ?mode=single) asks for a slower build, for comparisons; ?test
    // starts the worker with its test hooks (the e2e tests)
    const test = new URLSearchParams(location.search).has('test');
    app.engine = await Engine.start({ init: { mode: wantedBuild(location.search), test } });
  } catch (e) {
    $('#threads').textContent = 'engine failed to start';
    app.message(`The WebAssembly engine could not start: ${errorInfo(e).message}`, 'error');
    resolveBooted(false);
    return;
  }
  const eng = app.engine;
  eng.on('status', (ev) => statusArrived(ev.status));
  eng.on('log', (ev) => {
    if (ev.level === 'error' || ev.level === 'warn') app.message(ev.message, ev.level);
  });
  eng.on('progress', (ev) => session.progress(ev));
  eng.on('crash', (ev) => {
    app.message(
      ev.willRestart ? `The engine crashed (${ev.reason}); restarting it…` : `The engine crashed repeatedly (${ev.reason}); reload the page.`,
      'error',
    );
    session.crashed(ev);
  });
  eng.on('restarted', async (ev) => {
    try {
      await loadDefaults({ restoring: true });
      app.message(`The engine crashed and was restarted (${ev.reason}); the model was restored.`, 'warn');
      session.modelChanged('restart');
    } catch (e) {
      app.message(`The engine was restarted but the model could not be restored: ${errorInfo(e).message}`, 'error');
    }
  });
  try {
    await loadDefaults();
  } catch (e) {
    app.message(`Start-up failed: ${errorInfo(e).message}`, 'error');
  }
  session.setBooted();
  document.body.dataset.booted = 'true';
  resolveBooted(true);
  $('#no-model').hidden = state.hasModel;
  if (state.dataError) {
    /* the data error stays on the status line */
  } else if (!state.hasModel) {
    app.message(
      'No model is loaded yet: train one in the Train tab (about half a minute for the tiny preset) or load a weights file in the Weights tab.',
      'warn',
    );
  } else {
    app.message(`Ready: draw one ${app.noun().one}.`, 'ok');
  }
  session.modelChanged('boot');
}

boot();
