// @ts-check
// The Dream panel: digits sampled from the generative circuit's prior, per-component samples,
// an interpolation between two latents, and a 2-D map of test-image latents: the PCA map at once,
// then the t-SNE map forming from it, a step at a time, while the panel is shown. The core
// computes all of them (src/generate.rs, src/tsne.rs); this view draws. Sizes come from the catalog.

import { DIGIT_COLORS, fitCanvas } from './charts.js';
import { Coalescer } from './coalesce.js';
import { $, ctx2d } from './dom.js';
import { blitDigit } from './draw.js';
import { errorInfo } from './engine.js';

/**
 * The latent map on show: the points' positions (`proj`: PCA, then t-SNE as it forms), their
 * labels and images, and where they were drawn on screen (CSS pixels).
 * @typedef {{proj: ArrayLike<number>, labels: number[], pixels: Float32Array, start: number, n: number, kind: 'pca'|'tsne',
 *   iteration: number, iterations: number, done: boolean, cancelled: boolean, shown: Float32Array|null, screen: Float32Array|null}} LatentMapView
 */

/** What failed, in words. @param {unknown} e */
const why = (e) => errorInfo(e).message;

/** Samples drawn of each mixture component (a row of the components' picture). */
const COMPONENT_SAMPLES = 10;

export class DreamView {
  /** @param {import('./app.js').App} app */
  constructor(app) {
    this.app = app;
    this.seed = 1;
    this.stale = true;
    this.dreamer = new Coalescer(async () => {
      await this.ensurePrior();
      const many = this.app.noun().many;
      this.note(
        `${many.charAt(0).toUpperCase()}${many.slice(1)} sampled from a Gaussian mixture over the generative circuit's top latent, then decoded by the generative circuit.`,
      );
      await this.grid();
      await this.components();
      await this.interp();
      await this.buildMap();
    });
    /** @type {number[]|null} the interpolation's frames */
    this.frames = null;
    this.frame = 0;
    this.dir = 1;
    /** @type {ReturnType<typeof setInterval>|null} */
    this.anim = null;
    /** @type {LatentMapView|null} */
    this.map = null;
    this.mapGen = 0; // bumped to cancel the map being refined
    this.busy = false; // read by the tests: a dream in progress
    $('#resample').addEventListener('click', () => {
      this.seed += 1;
      this.grid().catch((e) => this.note(`Sampling failed: ${why(e)}`));
    });
    $('#interp-new').addEventListener('click', () => {
      this.seed += 1;
      this.interp().catch((e) => this.note(`Interpolation failed: ${why(e)}`));
    });
    $('#latent-map').addEventListener('click', (e) => this.pick(e));
    $('#latent-map').addEventListener('mousemove', (e) => this.hover(e));
    $('#latent-map').addEventListener('mouseleave', () => ($('#map-hover').hidden = true));
    app.on('model', () => {
      this.cancelMap();
      this.buildLegend();
      this.invalidate();
    });
    app.on('progress', (ev) => {
      if (ev.phase === 'done') this.invalidate();
    });
    app.on('panel', (p) => {
      if (p === 'dream') return this.startAnim();
      this.stopAnim();
      this.cancelMap();
    });
    this.buildLegend();
  }

  /** One entry per class of the model: the number the map draws, and its name when it has one. */
  buildLegend() {
    const legend = $('#latent-legend');
    legend.textContent = '';
    const digits = this.app.digits();
    this.app.classNames().forEach((name, d) => {
      const s = document.createElement('span');
      s.innerHTML = '<i></i>';
      s.append(digits ? name : `${d} = ${name}`);
      $('i', HTMLElement, s).style.background = DIGIT_COLORS[d % DIGIT_COLORS.length];
      legend.append(s);
    });
  }

  /** @param {string} text */
  note(text) {
    $('#dream-note').textContent = text;
  }

  invalidate() {
    this.stale = true;
    if (this.app.state.panel === 'dream') this.refresh();
  }

  show() {
    if (this.stale) this.refresh();
    else if (!this.map || this.map.cancelled) this.buildMap().catch((e) => this.note(`The map failed: ${why(e)}`));
    else this.drawMap();
  }

  async ensurePrior() {
    const s = this.app.state.status;
    if (s && s.model && s.model.prior) return;
    const cat = this.app.cat();
    const n = cat.prior_images;
    this.note(`This model has no prior over its latents yet: fitting one on ${n} ${this.app.noun().many}…`);
    const name = (s && s.dataset && s.dataset.name) || cat.default_dataset;
    // a site without in-page training serves no dev split: its test split stands in
    const split = cat.training ? 'dev' : 'test';
    await this.app.call('loadDataset', { name, splits: { [split]: n } });
    await this.app.call('fitPrior', { split, limit: n }); // the worker posts the new status
  }

  async refresh() {
    if (!this.app.state.hasModel) {
      this.note('No model is loaded yet: train one in the Train tab or load weights.');
      return;
    }
    this.stale = false;
    this.busy = true;
    try {
      await this.dreamer.request();
    } catch (e) {
      this.stale = true;
      this.note(`Dreaming failed: ${why(e)}`);
    } finally {
      this.busy = false;
    }
  }

  /** The catalog's samples in a square grid (10×10 for 100). */
  async grid() {
    const shape = this.app.image();
    if (!shape) return;
    const { rows, cols } = shape;
    const r = await this.app.call('dream', { n: this.app.cat().dream_samples, component: -1, seed: this.seed });
    const per = Math.ceil(Math.sqrt(r.n)); // tiles per row and per column
    const c = $('#dream-grid', HTMLCanvasElement);
    c.width = per * cols;
    c.height = per * rows;
    const ctx = ctx2d(c);
    const img = ctx.createImageData(c.width, c.height);
    for (let i = 0; i < r.n; i++) blitDigit(img, r.images, shape, i, (i % per) * cols, Math.floor(i / per) * rows);
    ctx.putImageData(img, 0, 0);
    c.dataset.seed = String(this.seed);
    c.dataset.per = String(per);
  }

  async components() {
    const m = this.app.state.status && this.app.state.status.model;
    const info = m && m.prior;
    const shape = this.app.image();
    if (!info || !shape) return;
    const { rows: th, cols: tw } = shape; // a tile's height and width
    const C = info.components;
    const N = COMPONENT_SAMPLES;
    const S = 3; // drawing scale, so that the labels are sharp
    const named = !this.app.digits();
    const L = named ? 4 : 1; // tiles' width of the label column
    const c = $('#dream-components', HTMLCanvasElement);
    c.width = (N + L) * tw * S;
    c.height = C * th * S;
    c.style.aspectRatio = `${N + L} / ${C}`;
    const ctx = ctx2d(c);
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, c.width, c.height);
    const tile = document.createElement('canvas');
    tile.width = N * tw;
    tile.height = th;
    const tctx = ctx2d(tile);
    ctx.imageSmoothingEnabled = false;
    // the rows in class order where the labels are known
    const label = (/** @type {number} */ k) => info.labels[k] ?? -1;
    const order = [...Array(C).keys()].sort((a, b) => (label(a) < 0 ? Infinity : label(a)) - (label(b) < 0 ? Infinity : label(b)) || a - b);
    for (const [row, comp] of order.entries()) {
      const r = await this.app.call('dream', { n: N, component: comp, seed: this.seed * 131 + comp });
      const img = tctx.createImageData(N * tw, th);
      for (let i = 0; i < N; i++) blitDigit(img, r.images, shape, i, i * tw, 0);
      tctx.putImageData(img, 0, 0);
      ctx.drawImage(tile, L * tw * S, row * th * S, N * tw * S, th * S);
      const lab = label(comp);
      ctx.fillStyle = lab >= 0 ? DIGIT_COLORS[lab % DIGIT_COLORS.length] : '#999';
      ctx.font = `bold ${(named ? 11 : 16) * S}px system-ui, sans-serif`;
      ctx.textAlign = named ? 'right' : 'center';
      ctx.textBaseline = 'middle';
      const text = lab >= 0 ? this.app.className(lab) : '?';
      ctx.fillText(text, named ? (L * tw - 3) * S : (tw / 2) * S, (row * th + th / 2) * S, (L * tw - 4) * S);
    }
    const names = order.map((k) => (label(k) >= 0 ? this.app.className(label(k)) : '?'));
    c.setAttribute('aria-label', `Samples of each of the ${C} mixture components, labelled ${names.join(', ')}`);
    c.dataset.labels = JSON.stringify(names);
  }

  async interp() {
    const shape = this.app.image();
    if (!shape) return;
    const { rows, cols } = shape;
    const INTERP_FRAMES = this.app.cat().interpolation_frames;
    const { images } = await this.app.call('interpolate', { frames: INTERP_FRAMES, seed: this.seed });
    this.frames = images;
    const strip = $('#dream-interp-strip', HTMLCanvasElement);
    const per = Math.ceil(INTERP_FRAMES / 2); // two rows
    strip.width = per * cols;
    strip.height = 2 * rows;
    const ctx = ctx2d(strip);
    const img = ctx.createImageData(strip.width, strip.height);
    for (let f = 0; f < INTERP_FRAMES; f++) blitDigit(img, images, shape, f, (f % per) * cols, Math.floor(f / per) * rows);
    ctx.putImageData(img, 0, 0);
    this.frame = 0;
    this.dir = 1;
    this.paintFrame();
    this.startAnim();
  }

  paintFrame() {
    const shape = this.app.image();
    if (!this.frames || !shape) return;
    const c = $('#dream-interp', HTMLCanvasElement);
    c.width = shape.cols;
    c.height = shape.rows;
    const ctx = ctx2d(c);
    const img = ctx.createImageData(shape.cols, shape.rows);
    blitDigit(img, this.frames, shape, this.frame, 0, 0);
    ctx.putImageData(img, 0, 0);
  }

  startAnim() {
    if (this.anim || !this.frames || this.app.state.panel !== 'dream') return;
    if (window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches) return;
    const INTERP_FRAMES = this.app.cat().interpolation_frames;
    this.anim = setInterval(() => {
      this.frame += this.dir;
      if (this.frame >= INTERP_FRAMES - 1 || this.frame <= 0) this.dir = -this.dir;
      this.frame = Math.max(0, Math.min(INTERP_FRAMES - 1, this.frame));
      this.paintFrame();
    }, 110);
  }

  stopAnim() {
    if (this.anim) clearInterval(this.anim);
    this.anim = null;
  }

  /** Draws the PCA map of test images at once, then refines it into their t-SNE map. */
  async buildMap() {
    const gen = ++this.mapGen;
    const size = await this.app.testSize();
    if (!size) return;
    const n = Math.min(this.app.cat().map_points, size);
    // spread the points over the whole test set
    const start = Math.floor(Math.random() * Math.max(1, size - n));
    const r = await this.app.call('images', { split: 'test', start, count: n });
    const px = Float32Array.from(r.pixels, (v) => v / 255);
    const pca = await this.app.call('mapStart', { split: 'test', start, count: n, seed: this.seed });
    if (gen !== this.mapGen) return;
    const iterations = this.app.cat().map_iterations;
    this.map = {
      proj: pca.points,
      labels: pca.labels,
      pixels: px,
      start,
      n: pca.n,
      kind: 'pca',
      iteration: 0,
      iterations,
      done: false,
      cancelled: false,
      shown: null,
      screen: null,
    };
    this.drawMap();
    this.refine(gen).catch((e) => {
      if (gen === this.mapGen) this.note(`The map stopped: ${why(e)}`);
    });
  }

  /** Advances the t-SNE map a step at a time, redrawing after each, until it is done or cancelled. @param {number} gen */
  async refine(gen) {
    const iterations = this.app.cat().map_step_iterations;
    while (gen === this.mapGen && this.map && !this.map.done) {
      const p = await this.app.call('mapStep', { iterations });
      if (gen !== this.mapGen) return;
      Object.assign(this.map, { proj: p.points, kind: 'tsne', iteration: p.iteration, iterations: p.iterations, done: p.done, shown: null });
      this.drawMap();
      await new Promise((resolve) => setTimeout(resolve)); // let drawing and clicks in between steps
    }
  }

  /** Stops refining the map (the visitor left the panel, or the model changed); shown again, it starts over. */
  cancelMap() {
    this.mapGen += 1;
    if (this.map && !this.map.done) {
      this.map.cancelled = true;
      this.app.call('mapDrop', {}).catch(() => {});
    }
  }

  drawMap() {
    const m = this.map;
    const c = $('#latent-map', HTMLCanvasElement);
    const [W, H, dpr] = fitCanvas(c);
    const ctx = ctx2d(c);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, W, H);
    if (!m) return;
    $('#map-state').textContent =
      m.kind === 'pca'
        ? '(PCA; t-SNE starting…)'
        : m.done
          ? `(t-SNE, ${m.iterations} iterations)`
          : `(t-SNE forming: ${m.iteration} of ${m.iterations} iterations)`;
    c.dataset.kind = m.kind;
    c.dataset.iteration = String(m.iteration);
    c.dataset.done = String(m.done);
    if (!m.shown) m.shown = m.kind === 'pca' ? compressed(m.proj, m.n) : Float32Array.from(m.proj);
    const P = m.shown;
    // the axes span the 1st to 99th percentiles (a few outliers would squash the rest); points
    // beyond are drawn at the edge
    const pct = (/** @type {number} */ c) => {
      const v = Array.from({ length: m.n }, (_, i) => P[2 * i + c]).sort((a, b) => a - b);
      const lo = v[Math.floor(0.01 * (m.n - 1))];
      const hi = v[Math.ceil(0.99 * (m.n - 1))];
      const padv = (hi - lo) * 0.06 || 1;
      return [lo - padv, hi + padv];
    };
    const [x0, x1] = pct(0);
    const [y0, y1] = pct(1);
    const pad = 10 * dpr;
    const sx = (W - 2 * pad) / (x1 - x0 || 1);
    const sy = (H - 2 * pad) / (y1 - y0 || 1);
    const screen = new Float32Array(m.n * 2);
    m.screen = screen;
    // a dot per image in its class's colour; the legend names the classes
    for (let i = 0; i < m.n; i++) {
      const x = pad + (Math.max(x0, Math.min(x1, P[2 * i])) - x0) * sx;
      const y = H - pad - (Math.max(y0, Math.min(y1, P[2 * i + 1])) - y0) * sy;
      screen[2 * i] = x / dpr;
      screen[2 * i + 1] = y / dpr;
      ctx.fillStyle = DIGIT_COLORS[m.labels[i] % DIGIT_COLORS.length];
      ctx.beginPath();
      ctx.arc(x, y, 2.5 * dpr, 0, 2 * Math.PI);
      ctx.fill();
    }
  }

  /** The map point nearest the pointer (within 14 px), or -1. @param {MouseEvent} e */
  nearest(e) {
    const m = this.map;
    if (!m || !m.screen) return -1;
    const r = $('#latent-map').getBoundingClientRect();
    const x = e.clientX - r.left;
    const y = e.clientY - r.top;
    let best = -1;
    let bd = 14 * 14;
    for (let i = 0; i < m.n; i++) {
      const d = (m.screen[2 * i] - x) ** 2 + (m.screen[2 * i + 1] - y) ** 2;
      if (d < bd) {
        bd = d;
        best = i;
      }
    }
    return best;
  }

  /** Shows the image under the pointer beside it. @param {MouseEvent} e */
  hover(e) {
    const tip = $('#map-hover', HTMLCanvasElement);
    const i = this.nearest(e);
    const m = this.map;
    const shape = this.app.image();
    if (i < 0 || !m || !m.screen || !shape) {
      tip.hidden = true;
      return;
    }
    tip.width = shape.cols;
    tip.height = shape.rows;
    const ctx = ctx2d(tip);
    const img = ctx.createImageData(shape.cols, shape.rows);
    blitDigit(img, m.pixels, shape, i, 0, 0);
    ctx.putImageData(img, 0, 0);
    const x = m.screen[2 * i];
    const y = m.screen[2 * i + 1];
    const w = $('#latent-map').getBoundingClientRect().width;
    tip.style.left = `${x + 70 > w ? x - 66 : x + 10}px`;
    tip.style.top = `${Math.max(0, y - 66)}px`;
    tip.title = this.app.className(m.labels[i]);
    tip.hidden = false;
  }

  /** @param {MouseEvent} e */
  pick(e) {
    const m = this.map;
    const best = this.nearest(e);
    const shape = this.app.image();
    if (best < 0 || !m || !shape) return;
    const px = m.pixels.slice(best * shape.pixels, (best + 1) * shape.pixels);
    this.app.setInput(px, { kind: 'test', index: m.start + best, label: m.labels[best] });
    this.app.show('draw');
  }
}

/**
 * A PCA map's coordinates with heavy tails compressed: asinh around the median, in units of
 * the median absolute deviation (order is kept). A t-SNE map is drawn as it is.
 * @param {ArrayLike<number>} proj x, y per point
 * @param {number} n points
 */
function compressed(proj, n) {
  const out = new Float32Array(n * 2);
  for (let c = 0; c < 2; c++) {
    const v = Array.from({ length: n }, (_, i) => proj[2 * i + c]).sort((a, b) => a - b);
    const med = v[v.length >> 1];
    const mad = v.map((x) => Math.abs(x - med)).sort((a, b) => a - b)[v.length >> 1] || 1;
    for (let i = 0; i < n; i++) out[2 * i + c] = Math.asinh((proj[2 * i + c] - med) / mad);
  }
  return out;
}
