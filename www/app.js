// Wiring: starts the engine, owns the shared state, the tabs and the status line, and tells
// the views when the input or the model changes. Each panel lives in its own module.

import { Engine } from './engine.js';
import { DrawView } from './draw-view.js';
import { SettleView } from './settle-view.js';
import { DreamView } from './dream-view.js';
import { TrainView } from './train-view.js';
import { DataView } from './data-view.js';
import { WeightsView } from './weights-view.js';
import { runtimeLabel, wantedBuild } from './wasm-build.js';

/** @type {(sel: string) => any} */
const $ = (sel) => document.querySelector(sel);

const state = {
  runtime: null, // {mode, build, simd, threads, reason, version}
  status: null, // the worker's last status (model, dataset, training)
  input: null, // Float32Array(784) the panels work on, or null
  inputSource: null, // {kind: 'draw'|'test'|'dream', index?, label?}
  lastClassify: null,
  lastEval: null,
  hasModel: false,
  booted: false,
  ready: false,
  panel: 'draw',
  pretrainedAvailable: null,
  restoreWeights: null, // {bytes, name} or {url}: how to bring the model back after a crash
  restarts: 0,
  errors: [],
  followingDataset: null, // the dataset being loaded to match the model
  followedModel: null, // the model whose dataset was last matched
  dataError: /** @type {{kind: string, file: string|null, message: string}|null} */ (null), // why the test images could not be loaded
  loadingTest: /** @type {Promise<void>|null} */ (null), // the test images on their way (app.testSize)
};

let resolveReady;
let resolveBooted;
const global = /** @type {any} */ (window);
global.pffReady = new Promise((r) => (resolveReady = r));
global.pffBooted = new Promise((r) => (resolveBooted = r));

const listeners = new Map();

const app = {
  engine: null,
  /** The core's catalog (presets, defaults, limits), fetched once at start. */
  catalog: null,
  state,
  views: {},
  on(name, fn) {
    if (!listeners.has(name)) listeners.set(name, new Set());
    listeners.get(name).add(fn);
  },
  emit(name, data) {
    for (const fn of listeners.get(name) || []) {
      try {
        fn(data);
      } catch (e) {
        console.warn(`pff: '${name}' handler failed`, e);
      }
    }
  },
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
  /** The name of class `c` of the loaded model (its number when no model is loaded). */
  className(c) {
    const m = state.status && state.status.model;
    return m && m.class_names[c] !== undefined ? m.class_names[c] : String(c);
  },
  /** The loaded model's class names (the ten digits when no model is loaded). */
  classNames() {
    const m = state.status && state.status.model;
    return m ? m.class_names : [...Array(10).keys()].map(String);
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
  /** Sets the input the panels work on (source: {kind, index, label}). */
  setInput(pixels, source = { kind: 'draw' }) {
    state.input = pixels;
    state.inputSource = source;
    state.lastClassify = null;
    app.emit('input', { pixels, source });
  },
  show(panel) {
    showPanel(panel);
  },
  /** A line in the status bar. level: info | ok | warn | error. */
  message(text, level = 'info') {
    const el = $('#message');
    el.textContent = text;
    el.className = `message ${level}`;
    if (level === 'error') state.errors.push(text);
  },
  /** The model changed (new, loaded, trained): refresh the status and tell the views. */
  async modelChanged(why = 'model') {
    try {
      renderStatus(await app.call('status', {}));
    } catch (_) {
      /* a crash is reported elsewhere */
    }
    app.emit('model', { why });
  },
  /**
   * The number of test images of the current dataset, loading them the first time a view needs
   * them (so that a first visit downloads only the page, the engine and the model). 0 when
   * they cannot be loaded: the reason is on the status line and in `state.dataError`.
   */
  async testSize() {
    const sizes = () => (state.status && state.status.dataset.sizes.test) || 0;
    if (sizes() || !state.status || !state.status.dataset.name) return sizes();
    if (!state.loadingTest) {
      const name = state.status.dataset.name;
      state.loadingTest = app
        .call('loadDataset', { name, splits: { test: 0 } })
        .then(async () => {
          state.dataError = null;
          renderStatus(await app.call('status', {}));
        })
        .catch((e) => {
          // a shard that fails its sha256 check is named and none of it is used; the rest works
          const what = e.kind === 'corrupt-data' ? `a data file failed its check (${e.file})` : 'they could not be loaded';
          app.message(`The ${name} test images are not available: ${what}. ${e.message}`, 'error');
          state.dataError = { kind: e.kind, file: e.file || null, message: e.message };
        })
        .finally(() => {
          state.loadingTest = null;
        });
    }
    await state.loadingTest;
    return sizes();
  },
  /** Keeps what is needed to bring the current model back after a worker crash. */
  async snapshot() {
    try {
      const { bytes } = await app.call('exportWeights', { half: false });
      state.restoreWeights = { bytes, name: state.status && state.status.model ? state.status.model.name : 'weights' };
    } catch (_) {
      /* no model */
    }
  },
};
global.pff = app;

/** The page's shared state and engine access, as the views see it. @typedef {typeof app} App */

// ------------------------------------------------------------------ status line

function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

const capital = (/** @type {string} */ w) => w.charAt(0).toUpperCase() + w.slice(1);

/** Puts the dataset's noun into the page's fixed texts: `data-noun` = one | many | One | Many,
 * and `data-aria-words`, an aria-label with `{one}` and `{many}` in it. */
function applyWords() {
  const n = app.noun();
  for (const el of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('[data-noun]'))) {
    const form = el.dataset.noun || 'one';
    const word = form.toLowerCase() === 'one' ? n.one : n.many;
    el.textContent = form === 'One' || form === 'Many' ? capital(word) : word;
  }
  for (const el of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('[data-aria-words]'))) {
    el.setAttribute('aria-label', (el.dataset.ariaWords || '').replaceAll('{one}', n.one).replaceAll('{many}', n.many));
  }
}

function fmtParams(n) {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${Math.round(n / 1e3)} k` : `${n}`;
}

function renderRuntime(rt) {
  const el = $('#threads');
  if (rt.mode === 'threads') {
    el.textContent = runtimeLabel(rt);
    el.className = 'badge threads-on';
    el.title = `${rt.build === 'relaxed' ? 'threaded, fused multiply-add' : 'threaded'} WebAssembly build (${rt.reason})`;
  } else {
    el.textContent = `${runtimeLabel(rt)}: ${rt.reason || 'single-thread build'}`;
    el.className = 'badge threads-off';
    el.title = 'single-thread WebAssembly build';
  }
}

function renderStatus(s) {
  if (!s) return;
  state.status = s;
  const m = s.model;
  const hadModel = state.hasModel;
  state.hasModel = !!m;
  $('#model-status').textContent = m ? `model: ${m.config.preset} · ${m.name} · ${fmtParams(m.params)} parameters` : 'no model loaded';
  $('#model-status').title = $('#model-status').textContent;
  const sizes = s.dataset && s.dataset.sizes ? s.dataset.sizes : {};
  const parts = Object.entries(sizes).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`);
  $('#data-status').textContent = s.dataset && s.dataset.name ? `${s.dataset.title}: ${parts.join(', ') || 'nothing loaded'}` : 'no data';
  if (s.training !== 'idle') $('#data-status').textContent += ` · training ${s.training}`;
  if (m && !hadModel) markReady();
  // a newly loaded model brings the test images of its dataset (once: a dataset loaded later,
  // to train on, stays)
  const loaded = m ? `${m.name}|${m.params}|${m.meta.dataset}` : null;
  if (loaded !== state.followedModel && s.training === 'idle') {
    state.followedModel = loaded;
    if (m && m.meta.dataset && s.dataset.name && m.meta.dataset !== s.dataset.name) followModelDataset(m.meta.dataset);
  }
  // keep a copy of each new model, to bring it back if the worker crashes
  const key = m ? `${m.name}|${m.params}` : null;
  if (key && key !== state.modelKey && s.training === 'idle') {
    state.modelKey = key;
    if (!(state.restoreWeights && state.restoreWeights.url && m.name === state.restoreWeights.name)) app.snapshot();
  }
  applyWords();
  app.emit('status', s);
}

/** Loads the test images of the dataset a newly loaded model was trained on. */
async function followModelDataset(name) {
  if (state.followingDataset === name) return;
  state.followingDataset = name;
  try {
    await app.call('loadDataset', { name, splits: {} }); // its test images come when a view needs them
    app.emit('model', { why: 'dataset' });
  } catch (e) {
    app.message(`This model was trained on ${name}, whose test images this site does not serve (${e.message}); the views keep the ${state.status.dataset.title} images.`, 'warn');
  } finally {
    state.followingDataset = null;
  }
}

function markReady() {
  if (state.ready) return;
  state.ready = true;
  document.body.dataset.ready = 'true';
  resolveReady(true);
}

// ------------------------------------------------------------------ tabs

const PANELS = ['draw', 'settle', 'dream', 'train', 'data', 'weights'];

function showPanel(name, { focus = false, updateHash = true } = {}) {
  if (!PANELS.includes(name) || $(`#tab-${name}`).hidden) name = 'draw';
  state.panel = name;
  // a control that opened another panel (Data's "Open in Draw") is hidden with its own: the
  // focus goes to the new panel's tab instead of falling to the page
  const from = /** @type {HTMLElement|null} */ (document.activeElement);
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
  const v = app.views[name];
  if (v && v.show) v.show();
  app.emit('panel', name);
}

function setupTabs() {
  const tabs = /** @type {HTMLElement[]} */ ([...document.querySelectorAll('[role="tab"]')]);
  for (const t of tabs) {
    t.addEventListener('click', () => showPanel(t.dataset.panel));
    t.addEventListener('keydown', (/** @type {KeyboardEvent} */ e) => {
      const shown = tabs.filter((x) => !x.hidden);
      const i = shown.indexOf(t);
      let j = null;
      if (e.key === 'ArrowRight') j = (i + 1) % shown.length;
      if (e.key === 'ArrowLeft') j = (i - 1 + shown.length) % shown.length;
      if (e.key === 'Home') j = 0;
      if (e.key === 'End') j = shown.length - 1;
      if (j !== null) {
        e.preventDefault();
        showPanel(shown[j].dataset.panel, { focus: true });
      }
    });
  }
  window.addEventListener('hashchange', () => showPanel(location.hash.slice(1), { updateHash: false }));
  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      const v = app.views[state.panel];
      if (v && v.show) v.show();
    }, 120);
  });
}

// ------------------------------------------------------------------ keyboard focus

/** Keeps the focused control clear of the sticky header: its height goes to --header-h (the
 * page's scroll-padding-top), and a control that still ends up under it is scrolled out. */
function setupFocus() {
  const header = /** @type {HTMLElement} */ ($('header.top'));
  const measure = () => document.documentElement.style.setProperty('--header-h', `${Math.ceil(header.getBoundingClientRect().height)}px`);
  measure();
  new ResizeObserver(measure).observe(header);
  document.addEventListener('focusin', (e) => {
    const el = /** @type {HTMLElement} */ (e.target);
    if (!(el instanceof HTMLElement) || header.contains(el)) return;
    const below = header.getBoundingClientRect().bottom + 8;
    const top = el.getBoundingClientRect().top;
    if (top < below) window.scrollBy(0, top - below);
  });
}

// ------------------------------------------------------------------ boot

/** What the site sets (its site.json, through the core's catalog): the title, whether it trains. */
function applySite(/** @type {import('./protocol.js').Catalog} */ cat) {
  if (cat.title) {
    document.title = `${cat.title} · pff`;
    $('.brand h1').textContent = cat.title;
    $('.tagline').textContent = 'A Predictive Forward-Forward model, running in this page (made with pff)';
  }
  $('#tab-train').hidden = !cat.training;
  if (!cat.training && state.panel === 'train') showPanel('draw');
}

async function loadDefaults({ restoring = false } = {}) {
  const eng = app.engine;
  state.runtime = eng.runtime;
  renderRuntime(eng.runtime);
  app.catalog = await app.call('catalog', {});
  applySite(app.catalog);
  const { default_dataset: dataset, pretrained_url: url, pretrained_name: name } = app.catalog;
  try {
    // the manifest only: the test images come when a view first needs them (app.testSize)
    await app.call('loadDataset', { name: dataset, splits: {} });
  } catch (e) {
    app.message(`The ${dataset} dataset is not available: ${e.message}`, 'error');
    state.dataError = { kind: e.kind, file: e.file || null, message: e.message };
  }
  const restore = restoring ? state.restoreWeights : null;
  if (restore && restore.bytes) {
    await app.call('loadWeights', { bytes: restore.bytes.slice(), name: restore.name });
  } else {
    const r = await app.call('loadWeights', { url, optional: true, name });
    state.pretrainedAvailable = r.loaded;
    if (r.loaded) state.restoreWeights = { url, name };
  }
  renderStatus(await app.call('status', {}));
}

async function boot() {
  setupTabs();
  setupFocus();
  app.views.draw = new DrawView(app);
  app.views.settle = new SettleView(app);
  app.views.dream = new DreamView(app);
  app.views.train = new TrainView(app);
  app.views.data = new DataView(app);
  app.views.weights = new WeightsView(app);
  showPanel(location.hash.slice(1) || 'draw', { updateHash: false });
  try {
    // ?build=threads|single (or ?mode=single) asks for a slower build, for comparisons
    app.engine = await Engine.start({ init: { mode: wantedBuild(location.search) } });
  } catch (e) {
    $('#threads').textContent = 'engine failed to start';
    app.message(`The WebAssembly engine could not start: ${e.message}`, 'error');
    resolveBooted(false);
    return;
  }
  const eng = app.engine;
  eng.on('status', (ev) => renderStatus(ev.status));
  eng.on('log', (ev) => {
    if (ev.level === 'error' || ev.level === 'warn') app.message(ev.message, ev.level);
  });
  eng.on('progress', (ev) => app.emit('progress', ev));
  eng.on('crash', (ev) => {
    state.restarts += 1;
    app.message(ev.willRestart ? `The engine crashed (${ev.reason}); restarting it…` : `The engine crashed repeatedly (${ev.reason}); reload the page.`, 'error');
    app.emit('crash', ev);
  });
  eng.on('restarted', async (ev) => {
    try {
      await loadDefaults({ restoring: true });
      app.message(`The engine crashed and was restarted (${ev.reason}); the model was restored.`, 'warn');
      app.emit('model', { why: 'restart' });
    } catch (e) {
      app.message(`The engine was restarted but the model could not be restored: ${e.message}`, 'error');
    }
  });
  try {
    await loadDefaults();
  } catch (e) {
    app.message(`Start-up failed: ${e.message}`, 'error');
  }
  state.booted = true;
  document.body.dataset.booted = 'true';
  resolveBooted(true);
  $('#no-model').hidden = state.hasModel;
  if (state.dataError) {
    /* the data error stays on the status line */
  } else if (!state.hasModel) {
    app.message('No model is loaded yet: train one in the Train tab (about half a minute for the tiny preset) or load a weights file in the Weights tab.', 'warn');
  } else {
    app.message(`Ready: draw one ${app.noun().one}.`, 'ok');
  }
  app.emit('model', { why: 'boot' });
}

boot();
