// The Settle panel: how the circuits settle on the current input over K steps.

import { DIGIT_COLORS, LineChart, gridCols, heatGrid } from './charts.js';
import { Coalescer } from './coalesce.js';
import { drawDigit, blitDigit } from './draw.js';

/** @type {(sel: string) => any} */
const $ = (sel) => document.querySelector(sel);
const PLAY_MS = 450;

export class SettleView {
  /** @param {import('./app.js').App} app */
  constructor(app) {
    this.app = app;
    this.trace = null; // the last settle result
    this.step = 0;
    this.choice = 'auto'; // 'auto' or a digit
    this.timer = null;
    this.stale = true;
    this.settler = new Coalescer(() => this.settleInput());
    this.names = '';
    this.buildHypotheses();
    const fs = $('#settle-hyp');
    fs.addEventListener('change', (e) => {
      this.choice = e.target.value;
      this.refresh();
    });
    $('#settle-play').addEventListener('click', () => this.togglePlay());
    $('#settle-step').addEventListener('click', () => {
      this.stopPlay();
      if (this.trace) this.setStep((this.step + 1) % this.trace.steps);
    });
    $('#settle-scrub').addEventListener('input', (e) => {
      this.stopPlay();
      this.setStep(Number(e.target.value));
    });
    $('#settle-strip').addEventListener('click', (e) => {
      if (!this.trace) return;
      const r = e.currentTarget.getBoundingClientRect();
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
      if (ev.epoch_end || ev.phase === 'done') this.invalidate();
    });
  }

  /** One curve and one choice per class of the loaded model, named (colours repeat past ten). */
  buildHypotheses() {
    const names = this.app.classNames();
    if (names.join('\u0000') === this.names) return;
    this.names = names.join('\u0000');
    const color = (c) => DIGIT_COLORS[c % DIGIT_COLORS.length];
    this.chart = new LineChart($('#settle-chart'), {
      series: names.map((name, c) => ({ name: '', color: color(c), endLabel: this.app.digits() ? name : String(c) })),
      xLabel: 'settling step',
      legend: false,
      xInteger: true,
    });
    $('#settle-chart').setAttribute('aria-label', `Goodness of the ${names.length} hypotheses per step`);
    const fs = $('#settle-hyp');
    for (const old of fs.querySelectorAll('label')) old.remove();
    const mk = (value, text, swatch) => {
      const label = document.createElement('label');
      label.dataset.value = value;
      label.innerHTML = `<input type="radio" name="hyp" value="${value}"${value === 'auto' ? ' checked' : ''}>${swatch ? '<i class="swatch"></i>' : ''}`;
      label.append(text);
      if (swatch) /** @type {HTMLElement} */ (label.querySelector('.swatch')).style.background = swatch;
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

  note(text) {
    $('#settle-note').textContent = text;
  }

  async refresh() {
    const { state } = this.app;
    drawDigit($('#settle-input'), state.input || new Float32Array(784));
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
      if (!(await this.settler.request())) return;
      const t = this.trace;
      const K = t.steps;
      const scrub = $('#settle-scrub');
      scrub.max = String(K - 1);
      if (this.step >= K) this.step = K - 1;
      this.note(`${K} settling steps, ${t.hidden} units per layer. Winner: ${this.app.className(t.winner)} (the hypothesis with the highest goodness over steps ${Math.floor(K / 2)}–${Math.floor(K / 2) + 1}). Showing the states under hypothesis ${this.app.className(t.label)}.`);
      for (const l of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('#settle-hyp label'))) l.classList.toggle('winner', l.dataset.value === String(t.winner));
      $('#panel-settle').dataset.steps = String(K);
      $('#panel-settle').dataset.winner = String(t.winner);
      $('#panel-settle').dataset.finalBest = String(t.final_best);
      this.buildStrip();
      this.drawAll();
    } catch (e) {
      this.stale = true;
      this.note(`Settling failed: ${e.message}`);
    }
  }

  /** One settle of the current input under the chosen hypothesis (the winner by default). */
  async settleInput() {
    const state = this.app.state;
    const input = state.input;
    // 'auto': the states of the classifier's answer (label -1)
    const label = this.choice === 'auto' ? -1 : Number(this.choice);
    const t = await this.app.call('settle', { pixels: input, label });
    if (input !== state.input) this.settler.rerun();
    this.trace = t;
  }

  clearViews() {
    this.chart.clear();
    for (const id of ['#settle-pred', '#settle-z1', '#settle-z2']) {
      const c = $(id);
      c.getContext('2d').clearRect(0, 0, c.width, c.height);
    }
    const s = $('#settle-strip');
    s.getContext('2d').clearRect(0, 0, s.width, s.height);
  }

  setStep(k) {
    this.step = k;
    this.drawStep();
  }

  togglePlay() {
    if (this.timer) return this.stopPlay();
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
   * percentile, so that a few very active units do not turn everything else dark. */
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
    const K = t.steps;
    const H = t.hidden;
    const cols = gridCols(H);
    const rows = Math.ceil(H / cols);
    this.r1 = this.range(t.z1);
    this.r2 = this.range(t.z2);
    const small = (w, h, paint) => {
      const c = document.createElement('canvas');
      c.width = w;
      c.height = h;
      const ctx = c.getContext('2d');
      const img = ctx.createImageData(w, h);
      paint(img);
      ctx.putImageData(img, 0, 0);
      return c;
    };
    const tiles = [];
    for (let k = 0; k < K; k++) {
      tiles.push({
        pred: small(28, 28, (img) => blitDigit(img, t.prediction, k, 0, 0)),
        z1: small(cols, rows, (img) => heatGrid(img, t.z1, k * H, H, cols, 0, 0, this.r1[0], this.r1[1])),
        z2: small(cols, rows, (img) => heatGrid(img, t.z2, k * H, H, cols, 0, 0, this.r2[0], this.r2[1])),
      });
    }
    this.strip = { tiles, cols, rows };
  }

  /** All K steps as columns (prediction, layer 1, layer 2), the current one outlined. */
  drawStrip(k) {
    const s = this.strip;
    const K = s.tiles.length;
    const vis = $('#settle-strip');
    const avail = Math.max(200, vis.parentElement.clientWidth - 16);
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
    const ctx = vis.getContext('2d');
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
    $('#settle-scrub').value = String(k);
    $('#settle-step-out').textContent = `${k + 1} / ${K}`;
    $('#settle-now').textContent = `${k + 1} of ${K}`;
    $('#settle-hyp-now').textContent = this.app.className(t.label);
    this.chart.marker = k + 1;
    this.chart.draw();
    // big views of the current step
    const pred = $('#settle-pred');
    drawDigit(pred, t.prediction, { offset: k * 784 });
    const H = t.hidden;
    const cols = gridCols(H);
    const rows = Math.ceil(H / cols);
    /** @type {[string, number[], number[]][]} */
    const layers = [['#settle-z1', t.z1, this.r1], ['#settle-z2', t.z2, this.r2]];
    for (const [id, arr, r] of layers) {
      const c = $(id);
      c.width = cols;
      c.height = rows;
      const ctx = c.getContext('2d');
      const img = ctx.createImageData(cols, rows);
      heatGrid(img, arr, k * H, H, cols, 0, 0, r[0], r[1]);
      ctx.putImageData(img, 0, 0);
    }
    this.drawStrip(k);
  }
}
