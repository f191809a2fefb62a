// @ts-check
// The Draw panel: drawing pad, the image the model sees (the core's shape), live classification
// with probability bars.
//
// A stroke's way to its verdict: DrawPad (draw.js) rasterises it, this view keeps it as the
// page's input (session.setInput, for the other panels) and classifies it itself (app.call ->
// engine.js -> engine-worker.js -> the core), then shows the answer. Inputs from elsewhere (a
// test image picked in Data or Dream) come in through the page's `input` event.

import { $, ctx2d } from './dom.js';
import { DrawPad, drawDigit } from './draw.js';
import { errorInfo } from './engine.js';

const RASTER_INTERVAL_MS = 60; // at most this often while a stroke is being drawn

/** @typedef {import('./session.js').InputSource} InputSource */

export class DrawView {
  /** @param {import('./app.js').App} app */
  constructor(app) {
    this.app = app;
    this.pad = new DrawPad($('#pad', HTMLCanvasElement), { onChange: (kind) => this.padChanged(kind), shape: () => app.image() });
    this.preview = $('#input-image', HTMLCanvasElement);
    /** @type {HTMLLIElement[]} */
    this.rows = [];
    this.names = '';
    this.buildRows();
    this.lastRaster = 0;
    /** @type {ReturnType<typeof setTimeout>|null} */
    this.rasterTimer = null;
    /** @type {Float32Array|null} the latest input to classify */
    this.want = null;
    this.busy = false;
    $('#clear').addEventListener('click', () => this.pad.clear());
    $('#undo').addEventListener('click', () => this.pad.undo());
    $('#random-digit').addEventListener('click', () => this.randomDigit());
    $('#quick-train').addEventListener('click', () => {
      app.show('train');
      app.views.train.quickStart();
    });
    app.on('status', (s) => {
      $('#no-model').hidden = !!s.model || !app.state.booted;
      const prompt = this.prompt();
      if (this.buildRows()) this.neutral(prompt);
      else if (!app.state.input && $('#draw-source').textContent !== prompt) $('#draw-source').textContent = prompt; // the noun came
    });
    // an input set elsewhere (Data, Dream, the tests); this view's own go straight to use()
    app.on('input', ({ pixels, source }) => {
      if (pixels !== this.own) this.inputChanged(pixels, source);
    });
    app.on('model', () => this.classify());
    app.on('progress', (ev) => {
      if (app.state.panel === 'draw' && ((ev.phase !== 'paused' && ev.epoch_end) || ev.phase === 'done')) this.classify();
    });
    app.on('crash', () => (this.busy = false));
    /** @type {Float32Array|null} the input this view set last */
    this.own = null;
    this.neutral(this.prompt());
  }

  /** One bar per class of the loaded model, named; true when they changed. */
  buildRows() {
    const names = this.app.classNames();
    if (names.join('\u0000') === this.names) return false;
    this.names = names.join('\u0000');
    const list = $('#probs');
    list.textContent = '';
    list.classList.toggle('named', !this.app.digits());
    $('#draw-hint').textContent =
      `The ${names.length} label hypotheses settle together; the one whose circuit ends up with the highest goodness wins. The forward head is the model's fast feed-forward guess.`;
    this.rows = names.map((name) => {
      const li = document.createElement('li');
      li.innerHTML = '<span class="d"></span><span class="bar"><span class="fill"></span></span><span class="pct">–</span>';
      $('.d', HTMLElement, li).textContent = name;
      li.setAttribute('aria-label', `${name}: no guess`);
      list.append(li);
      return li;
    });
    return true;
  }

  /** What to draw, in the model's classes. */
  prompt() {
    const names = this.app.classNames();
    if (this.app.digits()) return `Draw one ${this.app.noun().one} from 0 to ${names.length - 1}, as large as you like.`;
    return `Draw one of: ${names.join(', ')}.`;
  }

  show() {
    this.pad.resize();
  }

  /** @param {import('./draw.js').PadChange} kind */
  padChanged(kind) {
    if (kind === 'image') return; // set from elsewhere: the input is already known
    const now = performance.now();
    const run = () => {
      this.rasterTimer = null;
      this.lastRaster = performance.now();
      this.use(this.pad.input(), { kind: 'draw' });
    };
    if (kind === 'draw' && now - this.lastRaster < RASTER_INTERVAL_MS) {
      if (!this.rasterTimer) this.rasterTimer = setTimeout(run, RASTER_INTERVAL_MS - (now - this.lastRaster));
      return;
    }
    if (this.rasterTimer) clearTimeout(this.rasterTimer);
    run();
  }

  /** An input of this view's own (drawn, or a random test image): the page's input, then its verdict. @param {Float32Array|null} pixels @param {InputSource} source */
  use(pixels, source) {
    this.own = pixels;
    this.app.setInput(pixels, source);
    this.inputChanged(pixels, source);
  }

  /** @param {Float32Array|null} pixels @param {InputSource} source */
  inputChanged(pixels, source) {
    if (source.kind !== 'draw') this.pad.setImage(pixels);
    const note = $('#draw-source');
    if (source.kind === 'test')
      note.textContent = `Test ${this.app.noun().one} #${source.index}, labelled ${this.app.className(source.label)}. Draw on it to start over.`;
    else if (source.kind === 'dream') note.textContent = 'A dreamed image. Draw on it to start over.';
    else if (!pixels) note.textContent = this.prompt();
    else note.textContent = 'Keep drawing, or Clear to start again.';
    const shape = this.app.image();
    if (shape) drawDigit(this.preview, pixels || new Float32Array(shape.pixels), shape);
    else ctx2d(this.preview).clearRect(0, 0, this.preview.width, this.preview.height);
    if (!pixels) this.neutral();
    else this.classify();
  }

  async randomDigit() {
    const size = await this.app.testSize();
    if (!size) {
      // say why, as the other views do: the file that failed its check and the reason
      const e = this.app.state.dataError;
      const why = e ? `${e.kind === 'corrupt-data' && e.file ? `: a data file failed its check (${e.file})` : ''}. ${e.message}` : '.';
      this.app.message(`No test ${this.app.noun().many} are loaded${why}`, e ? 'error' : 'warn');
      return;
    }
    const index = Math.floor(Math.random() * size);
    try {
      const r = await this.app.call('images', { split: 'test', start: index, count: 1 });
      const px = Float32Array.from(r.pixels, (v) => v / 255);
      this.use(px, { kind: 'test', index, label: r.labels[0] });
    } catch (e) {
      this.app.message(`Could not read a test ${this.app.noun().one}: ${errorInfo(e).message}`, 'error');
    }
  }

  /** @param {string} [text] */
  neutral(text) {
    const p = $('#prediction');
    p.textContent = '';
    p.classList.add('empty');
    p.dataset.state = 'empty';
    $('#forward-pred').textContent = '–';
    $('#probs').classList.add('neutral');
    for (const [d, li] of this.rows.entries()) {
      li.classList.remove('win');
      $('.pct', HTMLElement, li).textContent = '–';
      li.setAttribute('aria-label', `${this.app.className(d)}: no guess`);
    }
    if (text) $('#draw-source').textContent = text;
  }

  /** Classifies the latest input; while a call is in flight only the newest input waits. */
  async classify() {
    this.want = this.app.state.input;
    if (this.busy) return;
    if (!this.want) return this.neutral();
    if (!this.app.state.hasModel) {
      this.neutral();
      $('#draw-source').textContent = 'No model is loaded: train one in the Train tab or load weights in the Weights tab.';
      return;
    }
    this.busy = true;
    try {
      let x;
      do {
        x = this.want;
        if (!x) break;
        const r = await this.app.call('classify', { pixels: x });
        if (x === this.app.state.input) this.render(r);
      } while (this.want !== x);
    } catch (err) {
      const e = errorInfo(err);
      if (e.kind !== 'crashed') this.app.message(`Classification failed: ${e.message}`, 'error'); // a crash is reported by app.js
    } finally {
      this.busy = false;
    }
    if (!this.app.state.input) this.neutral();
  }

  /** @param {import('./protocol.js').Classification} r */
  render(r) {
    const p = $('#prediction');
    p.textContent = this.app.className(r.prediction);
    p.classList.remove('empty');
    p.classList.toggle('named', !this.app.digits());
    p.dataset.state = 'guess';
    $('#forward-pred').textContent = this.app.className(r.forward_prediction);
    $('#probs').classList.remove('neutral');
    for (const [d, li] of this.rows.entries()) {
      const v = r.probs[d];
      $('.fill', HTMLElement, li).style.width = `${(v * 100).toFixed(1)}%`;
      $('.pct', HTMLElement, li).textContent = `${(v * 100).toFixed(v >= 0.995 || v < 0.1 ? 0 : 1)}%`;
      li.classList.toggle('win', d === r.prediction);
      li.setAttribute('aria-label', `${this.app.className(d)}: ${(v * 100).toFixed(1)} percent`);
    }
  }
}
