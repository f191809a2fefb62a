// @ts-check
// The Data panel: test digits with the model's answers, a misclassified filter, inspection in
// Draw/Settle, and the confusion matrix of the last evaluation.

import { $, $$ } from './dom.js';
import { drawDigit } from './draw.js';
import { errorInfo } from './engine.js';

const PAGE = 96;

export class DataView {
  /** @param {import('./app.js').App} app */
  constructor(app) {
    this.app = app;
    this.count = 0;
    /** @type {Uint8Array|null} the first `count` test images (catalog.image.pixels bytes each) */
    this.pixels = null;
    /** @type {Uint8Array} their labels */
    this.labels = new Uint8Array();
    /** @type {string|null} the dataset of `pixels` */
    this.dataset = null;
    /** @type {Uint8Array|null} the predictions of the last evaluation */
    this.preds = null;
    this.page = 0;
    /** @type {number|null} */
    this.selected = null;
    $('#data-eval').addEventListener('click', () => this.evaluate());
    $('#data-wrong').addEventListener('change', () => {
      this.page = 0;
      this.render();
    });
    $('#data-prev').addEventListener('click', () => this.turn(-1));
    $('#data-next').addEventListener('click', () => this.turn(1));
    $('#data-to-draw').addEventListener('click', () => this.open('draw'));
    $('#data-to-settle').addEventListener('click', () => this.open('settle'));
    // the tiles are one tab stop; the arrow keys, Home and End move inside them (roving tabindex)
    /** @type {number|null} the index of the tile that takes the focus */
    this.current = null;
    $('#data-tiles').addEventListener('keydown', (e) => this.tileKey(e));
    app.on('model', () => {
      // answers of another model are stale, and so are the images of another dataset
      const dataset = app.state.status && app.state.status.dataset.name;
      if (dataset !== this.dataset) {
        this.pixels = null;
        this.selected = null;
        $('#data-inspect').hidden = true;
      }
      if (this.preds || !this.pixels) {
        this.preds = null;
        delete $('#panel-data').dataset.accuracy;
        $('#data-summary').textContent = 'The model changed: evaluate again to see its answers.';
        if (app.state.panel === 'data') this.show();
      }
      this.renderConfusion(null);
    });
    this.renderConfusion(null);
  }

  async show() {
    if (!this.pixels) await this.load(Number($('#data-count', HTMLSelectElement).value));
    this.render();
  }

  /** @param {number} n */
  async load(n) {
    const size = await this.app.testSize();
    if (!size) {
      const e = this.app.state.dataError;
      $('#data-summary').textContent = `No test ${this.app.noun().many} are loaded.${e ? ` ${e.message}` : ''}`;
      return false;
    }
    n = Math.min(n, size);
    if (this.pixels && this.count === n) return true;
    this.dataset = this.app.state.status ? this.app.state.status.dataset.name : null;
    const r = await this.app.call('images', { split: 'test', start: 0, count: n });
    this.pixels = r.pixels;
    this.labels = r.labels;
    this.count = n;
    this.preds = null;
    return true;
  }

  async evaluate() {
    if (!this.app.state.hasModel) {
      $('#data-summary').textContent = 'No model is loaded yet.';
      return;
    }
    const n = Number($('#data-count', HTMLSelectElement).value);
    const btn = $('#data-eval', HTMLButtonElement);
    btn.disabled = true;
    $('#data-summary').textContent = `Evaluating ${n} test ${this.app.noun().many}…`;
    try {
      if (!(await this.load(n))) return;
      const t0 = performance.now();
      const ev = await this.app.call('evaluate', { split: 'test', limit: this.count });
      const ms = performance.now() - t0;
      this.preds = ev.predictions;
      const wrong = ev.n - Math.round(ev.accuracy * ev.n);
      $('#data-summary').textContent =
        `${ev.n} test ${this.app.noun().many}: ${(ev.accuracy * 100).toFixed(2)} % right with the goodness classifier (${wrong} wrong), ${(ev.forward_accuracy * 100).toFixed(2)} % with the forward head; ${(ms / 1000).toFixed(1)} s.`;
      $('#panel-data').dataset.accuracy = String(ev.accuracy);
      this.renderConfusion(ev.confusion);
      this.page = 0;
      this.render();
    } catch (e) {
      $('#data-summary').textContent = `Evaluation failed: ${errorInfo(e).message}`;
    } finally {
      btn.disabled = false;
    }
  }

  indices() {
    const all = [...Array(this.count).keys()];
    const preds = this.preds;
    if ($('#data-wrong', HTMLInputElement).checked && preds) return all.filter((i) => preds[i] !== this.labels[i]);
    return all;
  }

  /** @param {number} d */
  turn(d) {
    const pages = Math.max(1, Math.ceil(this.indices().length / PAGE));
    this.page = Math.max(0, Math.min(pages - 1, this.page + d));
    this.render();
  }

  render() {
    const box = $('#data-tiles');
    box.textContent = '';
    const pixels = this.pixels;
    const shape = this.app.image();
    if (!pixels || !shape) return;
    const idx = this.indices();
    const pages = Math.max(1, Math.ceil(idx.length / PAGE));
    this.page = Math.min(this.page, pages - 1);
    $('#data-page').textContent = `${this.page + 1} / ${pages}`;
    $('#data-prev', HTMLButtonElement).disabled = this.page === 0;
    $('#data-next', HTMLButtonElement).disabled = this.page >= pages - 1;
    if ($('#data-wrong', HTMLInputElement).checked && !this.preds) {
      box.textContent = `Evaluate first to find the misclassified ${this.app.noun().many}.`;
      return;
    }
    if (!idx.length) {
      box.textContent = 'None misclassified.';
      return;
    }
    const frag = document.createDocumentFragment();
    for (const i of idx.slice(this.page * PAGE, (this.page + 1) * PAGE)) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'tile';
      const c = document.createElement('canvas');
      drawDigit(c, pixels, shape, { max: 255, offset: i * shape.pixels });
      const lab = document.createElement('span');
      lab.className = 'lab';
      const truth = this.labels[i];
      const name = (/** @type {number} */ c) => this.app.className(c);
      if (this.preds) {
        const p = this.preds[i];
        lab.textContent = p === truth ? name(p) : `${name(p)} (is ${name(truth)})`;
        if (p !== truth) b.classList.add('wrong');
        b.setAttribute('aria-label', `test image ${i}, labelled ${name(truth)}, model says ${name(p)}`);
      } else {
        lab.textContent = name(truth);
        b.setAttribute('aria-label', `test image ${i}, labelled ${name(truth)}`);
      }
      b.dataset.index = String(i);
      b.tabIndex = -1;
      b.append(c, lab);
      b.addEventListener('click', () => this.select(i));
      frag.append(b);
    }
    box.append(frag);
    const tiles = this.tiles();
    const keep = tiles.find((t) => Number(t.dataset.index) === this.current) || tiles[0];
    if (!keep) return;
    keep.tabIndex = 0;
    this.current = Number(keep.dataset.index);
  }

  /** @returns {HTMLElement[]} the tiles on the page */
  tiles() {
    return $$('#data-tiles .tile');
  }

  /** Arrow keys move the focus between tiles (up and down by a row of the grid), Home/End to the ends. @param {KeyboardEvent} e */
  tileKey(e) {
    const tiles = this.tiles();
    const at = tiles.indexOf(/** @type {HTMLElement} */ (document.activeElement));
    if (at < 0) return;
    const perRow = Math.max(1, tiles.filter((t) => t.offsetTop === tiles[0].offsetTop).length);
    /** @type {Record<string, number>} */
    const moves = { ArrowRight: at + 1, ArrowLeft: at - 1, ArrowDown: at + perRow, ArrowUp: at - perRow, Home: 0, End: tiles.length - 1 };
    if (!(e.key in moves) || e.ctrlKey || e.altKey || e.metaKey) return;
    e.preventDefault();
    const to = Math.max(0, Math.min(tiles.length - 1, moves[e.key]));
    if (to === at) return;
    tiles[at].tabIndex = -1;
    tiles[to].tabIndex = 0;
    this.current = Number(tiles[to].dataset.index);
    tiles[to].focus();
  }

  /** @param {number} i */
  select(i) {
    const shape = this.app.image();
    if (!this.pixels || !shape) return;
    this.selected = i;
    this.current = i;
    $('#data-inspect').hidden = false;
    drawDigit($('#data-inspect-img', HTMLCanvasElement), this.pixels, shape, { max: 255, offset: i * shape.pixels });
    const truth = this.labels[i];
    const p = this.preds ? this.preds[i] : null;
    const name = (/** @type {number} */ c) => this.app.className(c);
    $('#data-inspect-text').textContent =
      `Test ${this.app.noun().one} #${i}, labelled ${name(truth)}${p === null ? '' : `; the model says ${name(p)}${p === truth ? ' (right)' : ' (wrong)'}`}.`;
  }

  /** @param {'draw'|'settle'} panel */
  open(panel) {
    const i = this.selected;
    const shape = this.app.image();
    if (i === null || !this.pixels || !shape) return;
    const px = Float32Array.from(this.pixels.subarray(i * shape.pixels, (i + 1) * shape.pixels), (v) => v / 255);
    this.app.setInput(px, { kind: 'test', index: i, label: this.labels[i] });
    this.app.show(panel);
  }

  /** @param {number[][]|null} m */
  renderConfusion(m) {
    const t = $('#confusion');
    t.textContent = '';
    const names = this.app.classNames();
    const C = names.length;
    const head = document.createElement('tr');
    head.innerHTML = '<th scope="col" aria-label="true label / predicted"></th>';
    for (const n of names) {
      const th = document.createElement('th');
      th.scope = 'col';
      th.textContent = n;
      head.append(th);
    }
    t.classList.toggle('named', !this.app.digits());
    t.append(head);
    for (let r = 0; r < C; r++) {
      const tr = document.createElement('tr');
      const th = document.createElement('th');
      th.scope = 'row';
      th.textContent = names[r];
      tr.append(th);
      const total = m ? m[r].reduce((a, b) => a + b, 0) : 0;
      for (let c = 0; c < C; c++) {
        const td = document.createElement('td');
        const v = m ? m[r][c] : 0;
        td.textContent = m ? String(v) : '';
        if (r === c) td.className = 'diag';
        if (m && total) {
          const f = v / total;
          // blue for the diagonal, orange for errors (Okabe–Ito), intensity = row share
          const [cr, cg, cb] = r === c ? [0, 114, 178] : [230, 159, 0];
          const a = r === c ? 0.15 + 0.75 * f : Math.min(0.9, f * 4);
          td.style.background = v ? `rgba(${cr}, ${cg}, ${cb}, ${a.toFixed(3)})` : '';
          if (r !== c && a > 0.5) td.style.color = '#000';
        }
        tr.append(td);
      }
      t.append(tr);
    }
  }
}
