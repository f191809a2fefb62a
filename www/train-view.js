// The Train panel: settings, start/pause/resume/stop, live loss and accuracy charts.

import { COLORS, LineChart } from './charts.js';

const $ = (sel) => document.querySelector(sel);
const PRESET_DEFAULTS = { tiny: { lr: 0.002, steps: 8 }, web: { lr: 0.00025, steps: 12 } };
const DEV_IMAGES = 2000;

function fmtTime(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return '–';
  s = Math.round(s);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

export class TrainView {
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
    $('#train-preset').addEventListener('change', () => this.presetChanged());
    for (const el of document.querySelectorAll('input[name="train-from"]')) el.addEventListener('change', () => this.fromChanged());
    $('#train-start').addEventListener('click', () => this.start());
    $('#train-pause').addEventListener('click', () => this.pauseResume());
    $('#train-stop').addEventListener('click', () => this.stop());
    app.on('progress', (ev) => this.progress(ev));
    app.on('status', (s) => this.statusChanged(s));
    app.on('crash', () => this.crashed());
    this.findDatasets();
    this.presetChanged();
  }

  show() {
    for (const c of Object.values(this.charts)) c.draw();
  }

  async findDatasets() {
    await window.pffBooted;
    try {
      const fashion = await this.app.call('manifest', { name: 'fashion' });
      if (fashion) {
        const o = document.createElement('option');
        o.value = 'fashion';
        o.textContent = 'Fashion-MNIST';
        $('#train-dataset').append(o);
      }
    } catch (_) {
      /* no fashion data: MNIST only */
    }
  }

  presetChanged() {
    const d = PRESET_DEFAULTS[$('#train-preset').value];
    $('#train-lr').value = String(d.lr);
    $('#train-steps').value = String(d.steps);
  }

  fromChanged() {
    const current = $('#train-from-current').checked;
    $('#train-preset').disabled = current || this.running;
    $('#train-steps').disabled = current || this.running;
    if (current) {
      const m = this.app.state.status && this.app.state.status.model;
      if (m) {
        $('#train-lr').value = String(m.lr);
        $('#train-steps').value = String(m.steps);
      }
    }
  }

  statusChanged(s) {
    const has = !!(s && s.model);
    const cur = $('#train-from-current');
    cur.disabled = !has;
    if (!has && cur.checked) document.querySelector('input[name="train-from"][value="scratch"]').checked = true;
  }

  setRunning(running) {
    this.running = running;
    $('#train-start').disabled = running;
    $('#train-pause').disabled = !running;
    $('#train-stop').disabled = !running;
    for (const el of document.querySelectorAll('#train-form input, #train-form select')) el.disabled = running;
    if (!running) {
      this.paused = false;
      $('#train-pause').textContent = 'Pause';
      this.fromChanged();
      this.statusChanged(this.app.state.status);
    }
    $('#weights-pretrained').disabled = running;
    $('#weights-input').disabled = running;
  }

  note(text) {
    $('#train-note').textContent = text;
  }

  resetCharts() {
    for (const c of Object.values(this.charts)) c.clear();
    this.x = 0;
    $('#dev-accuracy').textContent = '–';
    $('#train-progress').value = 0;
  }

  /** The tiny preset from scratch with the default settings (the Draw panel's offer). */
  quickStart() {
    if (this.running) return;
    $('#train-preset').value = 'tiny';
    this.presetChanged();
    document.querySelector('input[name="train-from"][value="scratch"]').checked = true;
    this.fromChanged();
    this.start();
  }

  async start() {
    if (this.running) return;
    const app = this.app;
    const preset = $('#train-preset').value;
    const name = $('#train-dataset').value;
    const size = Math.max(100, Math.min(50000, Number($('#train-size').value) || 5000));
    const epochs = Math.max(1, Math.min(100, Number($('#train-epochs').value) || 1));
    const lr = Number($('#train-lr').value);
    const steps = Number($('#train-steps').value);
    const fromScratch = !$('#train-from-current').checked;
    if (!(lr > 0)) {
      this.note('The learning rate must be a positive number.');
      return;
    }
    this.setRunning(true);
    try {
      this.note(`Loading ${size} training and ${DEV_IMAGES} dev images…`);
      const splits = { train: size, dev: DEV_IMAGES };
      const cur = app.state.status && app.state.status.dataset;
      if (!cur || cur.name !== name) splits.test = 0;
      await app.call('loadDataset', { name, splits });
      if (fromScratch) {
        this.resetCharts();
        const d = PRESET_DEFAULTS[preset];
        const overrides = {};
        if (steps !== d.steps) overrides.steps = steps;
        if (lr !== d.lr) overrides.lr = lr;
        const seed = Number($('#train-seed').value) >>> 0;
        await app.call('newModel', { preset, seed, overrides });
        await app.modelChanged('new');
      }
      this.note(`Training ${fromScratch ? `a new ${preset} model` : 'the current model'} on ${size} images for ${epochs} epoch${epochs > 1 ? 's' : ''}. Draw, Settle and Dream keep working with the weights as they are now.`);
      this.t0 = performance.now();
      const r = await app.call('train', { epochs, lr, devLimit: DEV_IMAGES });
      const acc = r.devAccuracy !== null ? ` Dev accuracy ${(r.devAccuracy * 100).toFixed(1)} %.` : '';
      this.note(`${r.stopped ? 'Stopped' : 'Finished'} after ${r.batches} batches in ${fmtTime(r.seconds)} (${Math.round(r.samplesPerSec)} samples/s).${acc}`);
      app.message(`Training ${r.stopped ? 'stopped' : 'finished'}.${acc}`, 'ok');
      app.state.lastTrain = r;
      await app.snapshot();
      await app.modelChanged('trained');
    } catch (e) {
      this.note(`Training failed: ${e.message}`);
      app.message(`Training failed: ${e.message}`, 'error');
    } finally {
      this.setRunning(false);
    }
  }

  async pauseResume() {
    if (!this.running) return;
    const type = this.paused ? 'resume' : 'pause';
    try {
      await this.app.call(type);
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
      await this.app.call('stop');
    } catch (e) {
      this.app.message(`Could not stop: ${e.message}`, 'error');
    }
  }

  crashed() {
    if (this.running) this.note('The engine crashed during training; it is being restarted with the last saved model.');
  }

  progress(ev) {
    for (const b of ev.batches || []) {
      this.x += 1;
      this.charts.goodness.push(0, this.x, b.goodness_loss);
      this.charts.gen.push(0, this.x, b.gen_loss);
      this.charts.head.push(0, this.x, b.head_loss);
    }
    if (ev.epochEnd && ev.devAccuracy !== null && ev.devAccuracy !== undefined) {
      this.charts.dev.push(0, ev.finishedEpoch, ev.devAccuracy * 100);
      this.charts.dev.schedule();
    }
    if (ev.devAccuracy !== null && ev.devAccuracy !== undefined) $('#dev-accuracy').textContent = `${(ev.devAccuracy * 100).toFixed(1)} %`;
    for (const k of ['goodness', 'gen', 'head']) this.charts[k].schedule();
    $('#train-progress').value = ev.fraction;
    const inEpoch = ev.phase === 'done' || ev.phase === 'stopped' ? ev.epoch - ev.startEpoch : Math.min(ev.epochs - ev.startEpoch, ev.epoch - ev.startEpoch + 1);
    $('#train-epoch').textContent = `${inEpoch} / ${ev.epochs - ev.startEpoch}`;
    const batch = ev.batch === 0 && ev.done > 0 ? ev.batchesPerEpoch : ev.batch; // 0 after an epoch's end
    $('#train-batch').textContent = `${batch} / ${ev.batchesPerEpoch}`;
    $('#train-rate').textContent = ev.samplesPerSec ? Math.round(ev.samplesPerSec).toLocaleString('en') : '–';
    $('#train-eta').textContent = ev.phase === 'done' ? 'done' : ev.phase === 'stopped' ? 'stopped' : ev.phase === 'paused' ? 'paused' : fmtTime(ev.etaSec);
    $('#train-threads').textContent = String(ev.threads);
    if (ev.phase === 'fitting prior') this.note('Fitting the generative prior for the Dream panel…');
  }
}
