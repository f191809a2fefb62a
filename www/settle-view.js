// @ts-check
// The Settle panel: how the circuits settle on the current input over K steps.

import { DIGIT_COLORS, LineChart, gridCols, heatGrid } from './charts.js';
import { Coalescer } from './coalesce.js';
import { $, $$, ctx2d } from './dom.js';
import { drawDigit, blitDigit } from './draw.js';
import { errorInfo } from './engine.js';

const PLAY_MS = 450;

/** @typedef {import('./protocol.js').SettleTrace} SettleTrace */
/** One step's small pictures: the generative prediction and the two layers. @typedef {{pred: HTMLCanvasElement, z1: HTMLCanvasElement, z2: HTMLCanvasElement}} StripTile */

/** The colour of class `c` (they repeat past ten). @param {number} c */
const color = (c) => DIGIT_COLORS[c % DIGIT_COLORS.length];

export class SettleView {
  /** @param {import('./app.js').App} app */
  constructor(app) {
    this.app = app;
    /** @type {SettleTrace|null} the last settle result */
    this.trace = null;
    this.step = 0;
    this.choice = 'auto'; // 'auto' or a class
    /** @type {ReturnType<typeof setInterval>|null} */
    this.timer = null;
    this.stale = true;
    this.settler = new Coalescer(() => this.settleInput());
    this.names = '';
    /** @type {[number, number]} the colour range of layer 1 */
    this.r1 = [0, 1];
    /** @type {[number, number]} the colour range of layer 2 */
    this.r2 = [0, 1];
    /** @type {{tiles: StripTile[], cols: number, rows: number}|null} */
    this.strip = null;
    this.stripGeom = { gap: 0, T: 1, K: 0 };
    this.chart = this.makeChart([]);
    this.buildHypotheses();
    const fs = $('#settle-hyp');
    fs.addEventListener('change', (e) => {
      if (e.target instanceof HTMLInputElement) this.choice = e.target.value;
      this.refresh();
    });
    $('#settle-play').addEventListener('click', () => this.togglePlay());
    $('#settle-step').addEventListener('click', () => {
      this.stopPlay();
      if (this.trace) this.setStep((this.step + 1) % this.trace.steps);
    });
    const scrub = $('#settle-scrub', HTMLInputElement);
    scrub.addEventListener('input', () => {
      this.stopPlay();
      this.setStep(Number(scrub.value));
    });
    const strip = $('#settle-strip', HTMLCanvasElement);
    strip.addEventListener('click', (e) => {
      if (!this.trace) return;
      const r = strip.getBoundingClientRect();
      const g = this.stripGeom;
      const k = Math.floor((e.clientX - r.left - g.gap / 2) / (g.T + g.gap));
      this.stopPlay();
      this.setStep(Math.max(0, Math.min(this.trace.steps - 1, k)));
    });
    app.on('input', () => this.invalidate());
    app.on('model', () => {
      this.buildHypotheses();
      this.invalidate();
    });
    app.on('progress', (ev) => {
      if ((ev.phase !== 'paused' && ev.epoch_end) || ev.phase === 'done') this.invalidate();
    });
  }

  /** The goodness chart, a curve per class (colours repeat past ten). @param {string[]} names */
  makeChart(names) {
    return new LineChart($('#settle-chart', HTMLCanvasElement), {
      series: names.map((name, c) => ({ name: '', color: color(c), endLabel: this.app.digits() ? name : String(c) })),
      xLabel: 'settling step',
      legend: false,
      xInteger: true,
    });
  }

  /** Whether a settle is in progress (the tests wait for it to end). */
  get busy() {
    return this.settler.running;
  }

  /** One curve and one choice per class of the loaded model, named. */
  buildHypotheses() {
    const names = this.app.classNames();
    if (names.join('\u0000') === this.names) return;
    this.names = names.join('\u0000');
    this.chart = this.makeChart(names);
    $('#settle-chart').setAttribute('aria-label', `Goodness of the ${names.length} hypotheses per step`);
    const fs = $('#settle-hyp');
    for (const old of fs.querySelectorAll('label')) old.remove();
    /** @param {string} value @param {string} text @param {string} [swatch] */
    const mk = (value, text, swatch) => {
      const label = document.createElement('label');
      label.dataset.value = value;
      label.innerHTML = `<input type="radio" name="hyp" value="${value}"${value === 'auto' ? ' checked' : ''}>${swatch ? '<i class="swatch"></i>' : ''}`;
      label.append(text);
      if (swatch) $('.swatch', HTMLElement, label).style.background = swatch;
      fs.append(label);
    };
    mk('auto', 'winner');
    names.forEach((name, c) => mk(String(c), name, color(c)));
    this.choice = 'auto';
  }

  visible() {
    return this.app.state.panel === 'settle';
  }

  invalidate() {
    this.stale = true;
    if (this.visible()) this.refresh();
  }

  show() {
    if (this.stale) this.refresh();
    else this.drawAll();
  }

  /** @param {string} text */
  note(text) {
    $('#settle-note').textContent = text;
  }

  async refresh() {
    const { state } = this.app;
    const shape = this.app.image();
    if (shape) drawDigit($('#settle-input', HTMLCanvasElement), state.input || new Float32Array(shape.pixels), shape);
    if (!state.input) {
      this.trace = null;
      this.clearViews();
      const n = this.app.noun().one;
      this.note(`Draw one ${n} in the Draw tab (or pick a test ${n}) to see how the circuits settle on it.`);
      return;
    }
    if (!state.hasModel) {
      this.note('No model is loaded yet.');
      return;
    }
    this.stale = false;
    try {
      if (!(await this.settler.request()) || !this.trace) return;
      const t = this.trace;
      const K = t.steps;
      const scrub = $('#settle-scrub', HTMLInputElement);
      scrub.max = String(K - 1);
      if (this.step >= K) this.step = K - 1;
      this.note(
        `${K} settling steps, ${t.hidden} units per layer. Winner: ${this.app.className(t.winner)} (the hypothesis with the highest goodness over steps ${Math.floor(K / 2)}–${Math.floor(K / 2) + 1}). Showing the states under hypothesis ${this.app.className(t.label)}.`,
      );
      for (const l of $$('#settle-hyp label')) l.classList.toggle('winner', l.dataset.value === String(t.winner));
      $('#panel-settle').dataset.steps = String(K);
      $('#panel-settle').dataset.winner = String(t.winner);
      $('#panel-settle').dataset.finalBest = String(t.final_best);
      this.buildStrip();
      this.drawAll();
    } catch (e) {
      this.stale = true;
      this.note(`Settling failed: ${errorInfo(e).message}`);
    }
  }

  /** One settle of the current input under the chosen hypothesis (the winner by default). */
  async settleInput() {
    const state = this.app.state;
    const input = state.input;
    if (!input) return;
    // 'auto': the states of the classifier's answer (label -1)
    const label = this.choice === 'auto' ? -1 : Number(this.choice);
    const t = await this.app.call('settle', { pixels: input, label });
    if (input !== state.input) this.settler.rerun();
    this.trace = t;
  }

  clearViews() {
    this.chart.clear();
    for (const id of ['#settle-pred', '#settle-z1', '#settle-z2', '#settle-strip']) {
      const c = $(id, HTMLCanvasElement);
      ctx2d(c).clearRect(0, 0, c.width, c.height);
    }
  }

  /** @param {number} k */
  setStep(k) {
    this.step = k;
    this.drawStep();
  }

  togglePlay() {
    if (this.timer) {
      this.stopPlay();
      return;
    }
    if (!this.trace) return;
    if (this.step >= this.trace.steps - 1) this.setStep(0);
    $('#settle-play').textContent = '❚❚ Pause';
    $('#settle-play').setAttribute('aria-label', 'Pause');
    this.timer = setInterval(() => {
      if (!this.trace || this.step >= this.trace.steps - 1) return this.stopPlay();
      this.setStep(this.step + 1);
    }, PLAY_MS);
  }

  stopPlay() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    $('#settle-play').textContent = '▶ Play';
    $('#settle-play').setAttribute('aria-label', 'Play');
  }

  /** Colour range of a layer's activity over all steps: from min(0, lowest) to the 99th
   * percentile, so that a few very active units do not turn everything else dark.
   * @param {number[]} arr @returns {[number, number]} */
  range(arr) {
    let lo = Infinity;
    for (const v of arr) if (v < lo) lo = v;
    lo = Math.min(0, lo);
    const s = Float32Array.from(arr).sort();
    let hi = s[Math.min(s.length - 1, Math.floor(0.99 * s.length))];
    if (!(hi > lo)) hi = s[s.length - 1] > lo ? s[s.length - 1] : lo + 1;
    return [lo, hi];
  }

  buildStrip() {
    const t = this.trace;
    const shape = this.app.image();
    if (!t || !shape) return;
    const K = t.steps;
    const H = t.hidden;
    const cols = gridCols(H);
    const rows = Math.ceil(H / cols);
    this.r1 = this.range(t.z1);
    this.r2 = this.range(t.z2);
    /** @param {number} w @param {number} h @param {(img: ImageData) => void} paint */
    const small = (w, h, paint) => {
      const c = document.createElement('canvas');
      c.width = w;
      c.height = h;
      const ctx = ctx2d(c);
      const img = ctx.createImageData(w, h);
      paint(img);
      ctx.putImageData(img, 0, 0);
      return c;
    };
    const tiles = [];
    for (let k = 0; k < K; k++) {
      tiles.push({
        pred: small(shape.cols, shape.rows, (img) => blitDigit(img, t.prediction, shape, k, 0, 0)),
        z1: small(cols, rows, (img) => heatGrid(img, t.z1, k * H, H, cols, 0, 0, this.r1[0], this.r1[1])),
        z2: small(cols, rows, (img) => heatGrid(img, t.z2, k * H, H, cols, 0, 0, this.r2[0], this.r2[1])),
      });
    }
    this.strip = { tiles, cols, rows };
  }

  /** All K steps as columns (prediction, layer 1, layer 2), the current one outlined. @param {number} k */
  drawStrip(k) {
    const s = this.strip;
    if (!s) return;
    const K = s.tiles.length;
    const vis = $('#settle-strip', HTMLCanvasElement);
    const avail = Math.max(200, (vis.parentElement ? vis.parentElement.clientWidth : 0) - 16);
    const gap = 6;
    const T = Math.max(30, Math.min(96, Math.floor((avail - gap * (K + 1)) / K)));
    const gh = Math.round((T * s.rows) / s.cols);
    const top = 18;
    const W = gap + K * (T + gap);
    const Hh = top + T + gap + 2 * (gh + gap);
    const dpr = Math.min(2, window.devicePixelRatio || 1);
    vis.style.width = `${W}px`;
    vis.style.height = `${Hh}px`;
    vis.width = Math.round(W * dpr);
    vis.height = Math.round(Hh * dpr);
    this.stripGeom = { gap, T, K };
    const ctx = ctx2d(vis);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.font = '12px system-ui, sans-serif';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (let j = 0; j < K; j++) {
      const x = gap + j * (T + gap);
      ctx.fillStyle = j === k ? '#F0E442' : '#a3abb7';
      ctx.fillText(String(j + 1), x + T / 2, 2);
      ctx.drawImage(s.tiles[j].pred, x, top, T, T);
      ctx.drawImage(s.tiles[j].z1, x, top + T + gap, T, gh);
      ctx.drawImage(s.tiles[j].z2, x, top + T + gap + gh + gap, T, gh);
    }
    ctx.strokeStyle = '#F0E442';
    ctx.lineWidth = 2;
    ctx.strokeRect(gap / 2 + k * (T + gap), top - 2, T + gap, Hh - top + 1);
  }

  drawAll() {
    if (!this.trace) return;
    const t = this.trace;
    const K = t.steps;
    const C = t.classes;
    for (let c = 0; c < C; c++) {
      const xs = [];
      const ys = [];
      for (let k = 0; k < K; k++) {
        xs.push(k + 1);
        ys.push(t.goodness[k * C + c]);
      }
      this.chart.set(c, xs, ys);
    }
    this.chart.highlight = t.winner;
    this.drawStep();
  }

  drawStep() {
    const t = this.trace;
    if (!t) return;
    const k = this.step;
    const K = t.steps;
    $('#settle-scrub', HTMLInputElement).value = String(k);
    $('#settle-step-out').textContent = `${k + 1} / ${K}`;
    $('#settle-now').textContent = `${k + 1} of ${K}`;
    $('#settle-hyp-now').textContent = this.app.className(t.label);
    this.chart.marker = k + 1;
    this.chart.draw();
    // big views of the current step
    const shape = this.app.image();
    if (shape) drawDigit($('#settle-pred', HTMLCanvasElement), t.prediction, shape, { offset: k * shape.pixels });
    const H = t.hidden;
    const cols = gridCols(H);
    const rows = Math.ceil(H / cols);
    /** @type {[string, number[], number[]][]} */
    const layers = [
      ['#settle-z1', t.z1, this.r1],
      ['#settle-z2', t.z2, this.r2],
    ];
    for (const [id, arr, r] of layers) {
      const c = $(id, HTMLCanvasElement);
      c.width = cols;
      c.height = rows;
      const ctx = ctx2d(c);
      const img = ctx.createImageData(cols, rows);
      heatGrid(img, arr, k * H, H, cols, 0, 0, r[0], r[1]);
      ctx.putImageData(img, 0, 0);
    }
    this.drawStrip(k);
  }
}
