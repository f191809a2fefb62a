// The Train panel: settings, start/pause/resume/stop, live loss and accuracy charts. The
// presets, their values and every bound come from the core's catalog; the run itself (epochs,
// dev evaluation, best model, test, prior) is the core's, driven by the worker.

import { COLORS, LineChart } from './charts.js';

/** @type {(sel: string) => any} */
const $ = (sel) => document.querySelector(sel);

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
    this.devX = 0;
    const mk = (id, name, color, extra = {}) => new LineChart($(id), { series: [{ name, color }], xLabel: 'batch', legend: false, smooth: 0.6, ...extra });
    this.charts = {
      goodness: mk('#chart-goodness', 'goodness', COLORS.sky),
      gen: mk('#chart-gen', 'generative', COLORS.orange),
      head: mk('#chart-head', 'head', COLORS.green),
      dev: new LineChart($('#chart-dev'), { series: [{ name: 'dev accuracy', color: COLORS.yellow, points: true }], xLabel: 'epoch', legend: false, xInteger: true }),
    };
    this.charts.dev.series[0].points = true;
    /** @type {Record<string, import('./protocol.js').DatasetOffer>} the offers of the datasets listed, by name */
    this.offers = {};
    $('#train-preset').addEventListener('change', () => this.presetChanged());
    $('#train-dataset').addEventListener('change', () => this.datasetChanged());
    for (const el of document.querySelectorAll('input[name="train-from"]')) el.addEventListener('change', () => this.fromChanged());
    $('#train-start').addEventListener('click', () => this.start());
    $('#train-pause').addEventListener('click', () => this.pauseResume());
    $('#train-stop').addEventListener('click', () => this.stop());
    app.on('progress', (ev) => this.progress(ev));
    app.on('status', (s) => this.statusChanged(s));
    app.on('crash', () => this.crashed());
    this.findDatasets();
  }

  /** The in-page presets and the form's bounds, from the catalog. */
  fill(catalog) {
    const select = $('#train-preset');
    select.textContent = '';
    for (const p of catalog.presets.filter((p) => p.in_page)) {
      const o = document.createElement('option');
      o.value = p.name;
      o.textContent = p.label;
      select.append(o);
    }
    select.value = catalog.default_preset;
    const bound = (id, b, value = true) => {
      const el = $(id);
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
    $('#train-lr').step = String(catalog.lr.min);
    this.presetChanged();
  }

  preset(name = $('#train-preset').value) {
    return this.app.catalog.presets.find((p) => p.name === name);
  }

  show() {
    for (const c of Object.values(this.charts)) c.draw();
  }

  async findDatasets() {
    await /** @type {any} */ (window).pffBooted;
    if (!this.app.catalog) return;
    this.fill(this.app.catalog);
    // every dataset of the catalog whose manifest this site serves, named by its manifest; the
    // core's offer of each (from its manifest) brings the form's bounds for a run on it
    const select = $('#train-dataset');
    for (const name of this.app.catalog.datasets) {
      try {
        const offer = await this.app.call('offer', { name });
        if (!offer) continue;
        this.offers[name] = offer;
        const o = document.createElement('option');
        o.value = name;
        o.textContent = offer.title;
        select.append(o);
      } catch (e) {
        this.app.message(`The ${name} dataset cannot be offered for training: ${e.message}`, 'warn');
      }
    }
    this.datasetChanged();
  }

  /** The selected dataset's bounds (the catalog's, clamped by the core to what it has) into the form. */
  datasetChanged() {
    const offer = this.offers[$('#train-dataset').value];
    if (!offer) return;
    this.bounds = offer.bounds;
    this.showBounds();
  }

  showBounds() {
    for (const [id, b] of /** @type {[string, import('./protocol.js').Bounds][]} */ ([['#train-size', this.bounds.train_images], ['#train-dev', this.bounds.dev_images]])) {
      const el = $(id);
      el.min = String(b.min);
      el.max = String(b.max);
      el.value = String(b.default);
    }
  }

  presetChanged() {
    const p = this.preset();
    if (!p) return;
    $('#train-lr').value = String(p.config.lr);
    $('#train-steps').value = String(p.config.steps);
  }

  fromChanged() {
    const current = $('#train-from-current').checked;
    $('#train-preset').disabled = current || this.running;
    $('#train-steps').disabled = current || this.running;
    if (current) {
      const m = this.app.state.status && this.app.state.status.model;
      if (m) {
        $('#train-lr').value = String(m.config.lr);
        $('#train-steps').value = String(m.config.steps);
      }
    }
  }

  statusChanged(s) {
    const has = !!(s && s.model);
    const cur = $('#train-from-current');
    cur.disabled = !has;
    if (!has && cur.checked) $('input[name="train-from"][value="scratch"]').checked = true;
  }

  setRunning(running) {
    const focus = document.activeElement;
    const lost = !focus || focus === document.body || (running ? focus === $('#train-start') : focus === $('#train-pause') || focus === $('#train-stop'));
    this.running = running;
    $('#train-start').disabled = running;
    $('#train-pause').disabled = !running;
    $('#train-stop').disabled = !running;
    for (const el of /** @type {NodeListOf<HTMLInputElement>} */ (document.querySelectorAll('#train-form input, #train-form select'))) el.disabled = running;
    if (!running) {
      this.paused = false;
      $('#train-pause').textContent = 'Pause';
      this.fromChanged();
      this.statusChanged(this.app.state.status);
    }
    $('#weights-pretrained').disabled = running;
    $('#weights-input').disabled = running;
    // the button that had the focus is disabled now: keep the focus on the run's controls
    if (lost && this.app.state.panel === 'train') $(running ? '#train-pause' : '#train-start').focus();
  }

  note(text) {
    $('#train-note').textContent = text;
  }

  resetCharts() {
    for (const c of Object.values(this.charts)) c.clear();
    this.x = 0;
    $('#dev-accuracy').textContent = '–';
    $('#train-best').textContent = '–';
    $('#train-progress').value = 0;
  }

  /** The tiny preset from scratch with the default settings (the Draw panel's offer). */
  quickStart() {
    if (this.running) return;
    $('#train-preset').value = this.app.catalog.default_preset;
    this.presetChanged();
    $('input[name="train-from"][value="scratch"]').checked = true;
    this.fromChanged();
    this.start();
  }

  async start() {
    if (this.running) return;
    const app = this.app;
    const cat = app.catalog;
    const clamp = (v, b) => Math.max(b.min, Math.min(b.max, Number(v) || b.default));
    const name = $('#train-dataset').value;
    const bounds = this.bounds; // the dataset's (the core clamps the run's limits to them too)
    const size = clamp($('#train-size').value, bounds.train_images);
    const dev = clamp($('#train-dev').value, bounds.dev_images);
    const tested = bounds.test_images.default;
    const epochs = clamp($('#train-epochs').value, cat.epochs);
    const lr = Number($('#train-lr').value);
    const steps = Number($('#train-steps').value);
    const fromScratch = !$('#train-from-current').checked;
    const model = app.state.status && app.state.status.model;
    const base = fromScratch ? this.preset().config : model.config;
    if (!(lr > 0)) {
      this.note('The learning rate must be a positive number.');
      return;
    }
    /** @type {import('./protocol.js').RunRequest} */
    const request = { preset: base.preset, dataset: name, seed: Number($('#train-seed').value) >>> 0, epochs, train_limit: size, dev_limit: dev, set: {} };
    if (tested > 0) request.test_limit = tested;
    else request.no_test = true; // a dataset without test images
    if (lr !== base.lr) request.set.lr = lr;
    if (fromScratch && steps !== base.steps) request.set.steps = steps;
    this.batchSize = base.batch_size;
    this.setRunning(true);
    this.losses = [];
    try {
      this.note(`Loading ${size} training and ${dev} dev images…`);
      await app.call('loadDataset', { name, splits: { train: size, dev, ...(tested > 0 ? { test: 0 } : {}) } });
      this.resetCharts();
      this.note(`Training ${fromScratch ? `a new ${base.preset} model` : 'the current model'} on ${size} images for ${epochs} epoch${epochs > 1 ? 's' : ''}. Draw, Settle and Dream use the model as of the last finished epoch.`);
      const r = await app.call('train', { request, from: fromScratch ? 'scratch' : 'current' });
      const meta = r.model ? r.model.meta : null;
      const last = r.history[r.history.length - 1];
      const best = meta ? ` Kept the best model: epoch ${meta.epochs}, dev accuracy ${((meta.dev_accuracy || 0) * 100).toFixed(1)} %${meta.test_accuracy !== undefined ? `, test accuracy ${(meta.test_accuracy * 100).toFixed(1)} %` : ''}.` : '';
      this.note(`${r.stopped ? 'Stopped' : 'Finished'} after ${this.losses.length} batches in ${fmtTime(r.seconds)} (${Math.round(r.samples_per_s)} samples/s).${best}`);
      app.message(`Training ${r.stopped ? 'stopped' : 'finished'}.${best}`, 'ok');
      const n = Math.min(5, this.losses.length);
      app.state.lastTrain = { ...r, batches: this.losses.length, last_dev_accuracy: last ? last.dev_accuracy : null, first_losses: this.losses.slice(0, n), last_losses: this.losses.slice(-n) };
      await app.snapshot();
      await app.modelChanged('trained');
    } catch (e) {
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
      this.app.message(`Could not ${type}: ${e.message}`, 'error');
    }
  }

  async stop() {
    if (!this.running) return;
    $('#train-stop').disabled = true;
    $('#train-pause').disabled = true;
    try {
      await this.app.call('stop', {});
    } catch (e) {
      this.app.message(`Could not stop: ${e.message}`, 'error');
    }
  }

  crashed() {
    if (this.running) this.note('The engine crashed during training; it is being restarted with the last saved model.');
  }

  progress(ev) {
    if (ev.phase === 'paused') {
      $('#train-eta').textContent = 'paused';
      return;
    }
    this.losses = this.losses || [];
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
    if (ev.best_epoch !== null && ev.best_dev_accuracy !== null) $('#train-best').textContent = `${ev.best_epoch} (${(ev.best_dev_accuracy * 100).toFixed(1)} %)`;
    for (const k of ['goodness', 'gen', 'head']) this.charts[k].schedule();
    $('#train-progress').value = ev.fraction;
    const training = ev.phase === 'training' || ev.phase === 'baseline';
    $('#train-epoch').textContent = `${Math.min(ev.epochs, ev.epoch + (training ? 1 : 0))} / ${ev.epochs}`;
    $('#train-batch').textContent = `${ev.batch === 0 && ev.epoch > 0 ? ev.batches_per_epoch : ev.batch} / ${ev.batches_per_epoch}`;
    $('#train-rate').textContent = ev.samples_per_s ? Math.round(ev.samples_per_s).toLocaleString('en') : '–';
    const left = (ev.epochs * ev.batches_per_epoch - (ev.epoch * ev.batches_per_epoch + ev.batch)) * this.batchSize;
    $('#train-eta').textContent = ev.phase === 'done' ? 'done' : training ? fmtTime(ev.samples_per_s > 0 ? left / ev.samples_per_s : null) : ev.phase;
    $('#train-threads').textContent = String(ev.threads);
    if (ev.phase === 'testing') this.note(`Testing the best model (epoch ${ev.best_epoch}) on the test ${this.app.noun().many}: ${ev.tested} / ${ev.test_total}…`);
    if (ev.phase === 'prior') this.note('Fitting the generative prior of the best model for the Dream panel…');
  }
}
