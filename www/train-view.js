// @ts-check
// The Train panel: settings, start/pause/resume/stop, live loss and accuracy charts. The
// presets, their values and every bound come from the core's catalog; the run itself (epochs,
// dev evaluation, best model, test, prior) is the core's, driven by the worker.

import { COLORS, LineChart } from './charts.js';
import { $, $$ } from './dom.js';
import { errorInfo } from './engine.js';

/** @typedef {import('./protocol.js').Bounds} Bounds */
/** @typedef {import('./protocol.js').RunBounds} RunBounds */

/** @param {number|null|undefined} s */
function fmtTime(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return '–';
  s = Math.round(s);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

export class TrainView {
  /** @param {import('./app.js').App} app */
  constructor(app) {
    this.app = app;
    this.running = false;
    this.paused = false;
    this.x = 0; // batches charted so far
    this.batchSize = 1; // of the run in progress
    /** @type {import('./protocol.js').BatchStats[]} the batches of the run in progress */
    this.losses = [];
    /** @type {RunBounds|null} the bounds of the selected dataset (the catalog's until an offer comes) */
    this.bounds = null;
    /** @param {string} id @param {string} name @param {string} color */
    const mk = (id, name, color) => new LineChart($(id, HTMLCanvasElement), { series: [{ name, color }], xLabel: 'batch', legend: false, smooth: 0.6 });
    this.charts = {
      goodness: mk('#chart-goodness', 'goodness', COLORS.sky),
      gen: mk('#chart-gen', 'generative', COLORS.orange),
      head: mk('#chart-head', 'head', COLORS.green),
      dev: new LineChart($('#chart-dev', HTMLCanvasElement), {
        series: [{ name: 'dev accuracy', color: COLORS.yellow, points: true }],
        xLabel: 'epoch',
        legend: false,
        xInteger: true,
      }),
    };
    /** @type {Record<string, import('./protocol.js').DatasetOffer>} the offers of the datasets listed, by name */
    this.offers = {};
    $('#train-preset').addEventListener('change', () => this.presetChanged());
    $('#train-dataset').addEventListener('change', () => this.datasetChanged());
    for (const el of $$('input[name="train-from"]')) el.addEventListener('change', () => this.fromChanged());
    $('#train-start').addEventListener('click', () => this.start());
    $('#train-pause').addEventListener('click', () => this.pauseResume());
    $('#train-stop').addEventListener('click', () => this.stop());
    app.on('progress', (ev) => this.progress(ev));
    app.on('status', (s) => this.statusChanged(s));
    app.on('crash', () => this.crashed());
    this.findDatasets();
  }

  /**
   * The in-page presets and the form's bounds, from the catalog. A preset that needs the GPU
   * build (`paper`) is listed but cannot be picked on the CPU builds, and says why.
   * @param {import('./protocol.js').Catalog} catalog
   */
  fill(catalog) {
    const select = $('#train-preset', HTMLSelectElement);
    select.textContent = '';
    const onGpu = this.app.state.runtime?.build === 'webgpu';
    for (const p of catalog.presets.filter((p) => p.in_page)) {
      const o = document.createElement('option');
      o.value = p.name;
      o.disabled = p.needs_gpu && !onGpu;
      o.textContent = o.disabled ? `${p.label}: needs a GPU (a browser with WebGPU)` : p.label;
      select.append(o);
    }
    select.value = catalog.default_preset;
    /** @param {string} id @param {Bounds} b */
    const bound = (id, b, value = true) => {
      const el = $(id, HTMLInputElement);
      el.min = String(b.min);
      el.max = String(b.max);
      if (value) el.value = String(b.default);
    };
    this.bounds = { train_images: catalog.train_images, dev_images: catalog.dev_images, test_images: catalog.test_images };
    this.showBounds();
    bound('#train-epochs', catalog.epochs);
    bound('#train-seed', catalog.seed);
    bound('#train-steps', catalog.steps, false);
    bound('#train-lr', { ...catalog.lr, default: 0 }, false);
    $('#train-lr', HTMLInputElement).step = String(catalog.lr.min);
    this.presetChanged();
  }

  /** The catalog's preset `name` (the selected one by default). */
  preset(name = $('#train-preset', HTMLSelectElement).value) {
    return this.app.cat().presets.find((p) => p.name === name);
  }

  show() {
    for (const c of Object.values(this.charts)) c.draw();
  }

  async findDatasets() {
    await /** @type {Window & {pffBooted?: Promise<boolean>}} */ (window).pffBooted;
    const cat = this.app.catalog;
    if (!cat) return;
    this.fill(cat);
    // every dataset of the catalog whose manifest this site serves, named by its manifest; the
    // core's offer of each (from its manifest) brings the form's bounds for a run on it
    const select = $('#train-dataset', HTMLSelectElement);
    for (const name of cat.datasets) {
      try {
        const offer = await this.app.call('offer', { name });
        if (!offer) continue;
        this.offers[name] = offer;
        const o = document.createElement('option');
        o.value = name;
        o.textContent = offer.title;
        select.append(o);
      } catch (e) {
        this.app.message(`The ${name} dataset cannot be offered for training: ${errorInfo(e).message}`, 'warn');
      }
    }
    this.datasetChanged();
  }

  /** The selected dataset's bounds (the catalog's, clamped by the core to what it has) into the form. */
  datasetChanged() {
    const offer = this.offers[$('#train-dataset', HTMLSelectElement).value];
    if (!offer) return;
    this.bounds = offer.bounds;
    this.showBounds();
  }

  showBounds() {
    const bounds = this.bounds;
    if (!bounds) return;
    for (const [id, b] of /** @type {[string, Bounds][]} */ ([
      ['#train-size', bounds.train_images],
      ['#train-dev', bounds.dev_images],
    ])) {
      const el = $(id, HTMLInputElement);
      el.min = String(b.min);
      el.max = String(b.max);
      el.value = String(b.default);
    }
  }

  presetChanged() {
    const p = this.preset();
    if (!p) return;
    $('#train-lr', HTMLInputElement).value = String(p.config.lr);
    $('#train-steps', HTMLInputElement).value = String(p.config.steps);
  }

  fromChanged() {
    const current = $('#train-from-current', HTMLInputElement).checked;
    $('#train-preset', HTMLSelectElement).disabled = current || this.running;
    $('#train-steps', HTMLInputElement).disabled = current || this.running;
    if (current) {
      const m = this.app.state.status && this.app.state.status.model;
      if (m) {
        $('#train-lr', HTMLInputElement).value = String(m.config.lr);
        $('#train-steps', HTMLInputElement).value = String(m.config.steps);
      }
    }
  }

  /** @param {import('./protocol.js').Status|null} s */
  statusChanged(s) {
    const has = !!(s && s.model);
    const cur = $('#train-from-current', HTMLInputElement);
    cur.disabled = !has;
    if (!has && cur.checked) $('input[name="train-from"][value="scratch"]', HTMLInputElement).checked = true;
  }

  /** @param {boolean} running */
  setRunning(running) {
    const focus = document.activeElement;
    const lost = !focus || focus === document.body || (running ? focus === $('#train-start') : focus === $('#train-pause') || focus === $('#train-stop'));
    this.running = running;
    $('#train-start', HTMLButtonElement).disabled = running;
    $('#train-pause', HTMLButtonElement).disabled = !running;
    $('#train-stop', HTMLButtonElement).disabled = !running;
    for (const el of $$('#train-form input, #train-form select')) if (el instanceof HTMLInputElement || el instanceof HTMLSelectElement) el.disabled = running;
    if (!running) {
      this.paused = false;
      $('#train-pause').textContent = 'Pause';
      this.fromChanged();
      this.statusChanged(this.app.state.status);
    }
    const pretrained = document.querySelector('#weights-pretrained');
    if (pretrained instanceof HTMLButtonElement) pretrained.disabled = running; // a site may publish no model
    $('#weights-input', HTMLInputElement).disabled = running;
    // the button that had the focus is disabled now: keep the focus on the run's controls
    if (lost && this.app.state.panel === 'train') $(running ? '#train-pause' : '#train-start').focus();
  }

  /** @param {string} text */
  note(text) {
    $('#train-note').textContent = text;
  }

  resetCharts() {
    for (const c of Object.values(this.charts)) c.clear();
    this.x = 0;
    $('#dev-accuracy').textContent = '–';
    $('#train-best').textContent = '–';
    $('#train-progress', HTMLProgressElement).value = 0;
  }

  /** The tiny preset from scratch with the default settings (the Draw panel's offer). */
  quickStart() {
    if (this.running) return;
    $('#train-preset', HTMLSelectElement).value = this.app.cat().default_preset;
    this.presetChanged();
    $('input[name="train-from"][value="scratch"]', HTMLInputElement).checked = true;
    this.fromChanged();
    this.start();
  }

  async start() {
    if (this.running) return;
    const app = this.app;
    const cat = app.cat();
    const value = (/** @type {string} */ id) => $(id, HTMLInputElement).value;
    const clamp = (/** @type {string} */ v, /** @type {Bounds} */ b) => Math.max(b.min, Math.min(b.max, Number(v) || b.default));
    const name = $('#train-dataset', HTMLSelectElement).value;
    const bounds = this.bounds; // the dataset's (the core clamps the run's limits to them too)
    if (!bounds) return;
    const size = clamp(value('#train-size'), bounds.train_images);
    const dev = clamp(value('#train-dev'), bounds.dev_images);
    const tested = bounds.test_images.default;
    const epochs = clamp(value('#train-epochs'), cat.epochs);
    const lr = Number(value('#train-lr'));
    const steps = Number(value('#train-steps'));
    const fromScratch = !$('#train-from-current', HTMLInputElement).checked;
    const model = app.state.status && app.state.status.model;
    const base = fromScratch ? this.preset()?.config : model?.config;
    if (!base) return;
    if (!(lr > 0)) {
      this.note('The learning rate must be a positive number.');
      return;
    }
    /** @type {Record<string, number>} */
    const set = {};
    /** @type {import('./protocol.js').RunRequest} */
    const request = { preset: base.preset, dataset: name, seed: Number(value('#train-seed')) >>> 0, epochs, train_limit: size, dev_limit: dev, set };
    if (tested > 0) request.test_limit = tested;
    else request.no_test = true; // a dataset without test images
    if (lr !== base.lr) set.lr = lr;
    if (fromScratch && steps !== base.steps) set.steps = steps;
    this.batchSize = base.batch_size;
    this.setRunning(true);
    this.losses = [];
    try {
      this.note(`Loading ${size} training and ${dev} dev images…`);
      // only the images the run reads, as the core says (RunRequest::reads)
      await app.call('loadDataset', { name, run: request });
      this.resetCharts();
      this.note(
        `Training ${fromScratch ? `a new ${base.preset} model` : 'the current model'} on ${size} images for ${epochs} epoch${epochs > 1 ? 's' : ''}. Draw, Settle and Dream use the model as of the last finished epoch.`,
      );
      const r = await app.call('train', { request, from: fromScratch ? 'scratch' : 'current' });
      const meta = r.model ? r.model.meta : null;
      const last = r.history[r.history.length - 1];
      const best = meta
        ? ` Kept the best model: epoch ${meta.epochs}, dev accuracy ${((meta.dev_accuracy || 0) * 100).toFixed(1)} %${meta.test_accuracy !== undefined ? `, test accuracy ${(meta.test_accuracy * 100).toFixed(1)} %` : ''}.`
        : '';
      this.note(
        `${r.stopped ? 'Stopped' : 'Finished'} after ${this.losses.length} batches in ${fmtTime(r.seconds)} (${Math.round(r.samples_per_s)} samples/s).${best}`,
      );
      app.message(`Training ${r.stopped ? 'stopped' : 'finished'}.${best}`, 'ok');
      const n = Math.min(5, this.losses.length);
      app.session.setLastTrain({
        ...r,
        batches: this.losses.length,
        last_dev_accuracy: last ? last.dev_accuracy : null,
        first_losses: this.losses.slice(0, n),
        last_losses: this.losses.slice(-n),
      });
      await app.snapshot();
      await app.modelChanged('trained');
    } catch (err) {
      const e = errorInfo(err);
      const kept = e.kind === 'non-finite' ? ' The best model so far is kept.' : '';
      this.note(`Training failed: ${e.message}.${kept}`);
      app.message(`Training failed: ${e.message}.${kept}`, 'error');
      await app.modelChanged('trained');
    } finally {
      this.setRunning(false);
    }
  }

  async pauseResume() {
    if (!this.running) return;
    const type = this.paused ? 'resume' : 'pause';
    try {
      await this.app.call(type, {});
      this.paused = !this.paused;
      $('#train-pause').textContent = this.paused ? 'Resume' : 'Pause';
    } catch (e) {
      this.app.message(`Could not ${type}: ${errorInfo(e).message}`, 'error');
    }
  }

  async stop() {
    if (!this.running) return;
    $('#train-stop', HTMLButtonElement).disabled = true;
    $('#train-pause', HTMLButtonElement).disabled = true;
    try {
      await this.app.call('stop', {});
    } catch (e) {
      this.app.message(`Could not stop: ${errorInfo(e).message}`, 'error');
    }
  }

  crashed() {
    if (this.running) this.note('The engine crashed during training; it is being restarted with the last saved model.');
  }

  /** @param {import('./protocol.js').ProgressEvent} ev */
  progress(ev) {
    if (ev.phase === 'paused') {
      $('#train-eta').textContent = 'paused';
      return;
    }
    for (const b of ev.batches) {
      this.x += 1;
      this.losses.push(b);
      this.charts.goodness.push(0, this.x, b.goodness_loss);
      this.charts.gen.push(0, this.x, b.gen_loss);
      this.charts.head.push(0, this.x, b.head_loss);
    }
    const rec = ev.epoch_end;
    if (rec) {
      this.charts.dev.push(0, rec.epoch, rec.dev_accuracy * 100);
      this.charts.dev.schedule();
      if (rec.epoch > 0) $('#dev-accuracy').textContent = `${(rec.dev_accuracy * 100).toFixed(1)} %`;
    }
    if (ev.best_epoch !== null && ev.best_dev_accuracy !== null)
      $('#train-best').textContent = `${ev.best_epoch} (${(ev.best_dev_accuracy * 100).toFixed(1)} %)`;
    for (const c of [this.charts.goodness, this.charts.gen, this.charts.head]) c.schedule();
    $('#train-progress', HTMLProgressElement).value = ev.fraction;
    const training = ev.phase === 'training' || ev.phase === 'baseline';
    $('#train-epoch').textContent = `${Math.min(ev.epochs, ev.epoch + (training ? 1 : 0))} / ${ev.epochs}`;
    $('#train-batch').textContent = `${ev.batch === 0 && ev.epoch > 0 ? ev.batches_per_epoch : ev.batch} / ${ev.batches_per_epoch}`;
    $('#train-rate').textContent = ev.samples_per_s ? Math.round(ev.samples_per_s).toLocaleString('en') : '–';
    const left = (ev.epochs * ev.batches_per_epoch - (ev.epoch * ev.batches_per_epoch + ev.batch)) * this.batchSize;
    $('#train-eta').textContent = ev.phase === 'done' ? 'done' : training ? fmtTime(ev.samples_per_s > 0 ? left / ev.samples_per_s : null) : ev.phase;
    $('#train-threads').textContent = String(ev.threads);
    if (ev.phase === 'testing')
      this.note(`Testing the best model (epoch ${ev.best_epoch}) on the test ${this.app.noun().many}: ${ev.tested} / ${ev.test_total}…`);
    if (ev.phase === 'prior') this.note('Fitting the generative prior of the best model for the Dream panel…');
  }
}
