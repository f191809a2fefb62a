// @ts-check
// Small canvas charts: line charts (live, multi-series), heat maps, colour scales.
// Colours: Okabe–Ito (colour-blind safe) for series; a viridis-like scale for heat maps.

import { ctx2d } from './dom.js';

/** Ten series colours for the ten digits, Okabe–Ito first (readable on the dark background). */
export const DIGIT_COLORS = ['#E69F00', '#56B4E9', '#009E73', '#F0E442', '#3D8BD9', '#D55E00', '#CC79A7', '#FFFFFF', '#999999', '#A6761D'];
export const COLORS = {
  orange: '#E69F00',
  sky: '#56B4E9',
  green: '#009E73',
  yellow: '#F0E442',
  blue: '#3D8BD9',
  vermillion: '#D55E00',
  purple: '#CC79A7',
  grey: '#999999',
};

// the legend: a line swatch, its name after a gap, the next entry after another
const LEGEND_SWATCH = 16;
const LEGEND_TEXT_GAP = 4;
const LEGEND_GAP = 8;

// prettier-ignore
const VIRIDIS = [
  [68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
  [31, 158, 137], [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37],
];

/** t in [0,1] -> [r,g,b] on a viridis-like scale. @param {number} t @returns {[number, number, number]} */
export function viridis(t) {
  t = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(t));
  const f = t - i;
  const a = VIRIDIS[i];
  const b = VIRIDIS[i + 1];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

/** Sizes a canvas's backing store to its CSS size × devicePixelRatio; returns [w, h, dpr]. @param {HTMLCanvasElement} canvas @returns {[number, number, number]} */
export function fitCanvas(canvas) {
  const r = canvas.getBoundingClientRect();
  const dpr = Math.min(3, window.devicePixelRatio || 1);
  const w = Math.max(1, Math.round((r.width || canvas.width) * dpr));
  const h = Math.max(1, Math.round((r.height || canvas.height) * dpr));
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  return [w, h, dpr];
}

/** @param {number} lo @param {number} hi @returns {number[]} */
function niceTicks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const span = hi - lo;
  const step0 = span / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const norm = step0 / mag;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return ticks;
}

/** A tick label with as many decimals as the tick step needs. @param {number} v @param {number} step */
function fmt(v, step) {
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 10000 && step >= 1000) return `${(v / 1000).toFixed(0)}k`;
  if (a < 1e-3) return v.toExponential(0);
  const dec = Math.max(0, Math.min(4, -Math.floor(Math.log10(step || 1) + 1e-9)));
  return v.toFixed(dec);
}

/**
 * A line chart. series: [{name, color, width?, dash?}]; data is pushed per series as (x, y).
 * Options: xLabel, yLabel, yMin/yMax (fixed), legend (bool), marker (x of a vertical line),
 * highlight (index of a series drawn on top, thicker), smooth (EMA factor for display).
 */
/**
 * One line: its look (`endLabel`: text at its last point; `points`: a dot per value).
 * @typedef {{name: string, color: string, width?: number, dash?: number[], endLabel?: string, points?: boolean}} SeriesStyle
 */
/** @typedef {SeriesStyle & {xs: number[], ys: number[]}} Series */
/**
 * @typedef {{series?: SeriesStyle[], xLabel?: string, yLabel?: string, yMin?: number|null, yMax?: number|null,
 *   legend?: boolean, smooth?: number, xInteger?: boolean}} ChartOptions
 */

export class LineChart {
  /** @param {HTMLCanvasElement} canvas @param {ChartOptions} [options] */
  constructor(canvas, { series = [], xLabel = '', yLabel = '', yMin = null, yMax = null, legend = true, smooth = 0, xInteger = false } = {}) {
    this.canvas = canvas;
    /** @type {Series[]} */
    this.series = series.map((s) => ({ ...s, xs: [], ys: [] }));
    this.xLabel = xLabel;
    this.yLabel = yLabel;
    this.yMin = yMin;
    this.yMax = yMax;
    this.legend = legend;
    this.smooth = smooth;
    this.xInteger = xInteger;
    /** @type {number|null} */
    this.marker = null;
    /** @type {number|null} */
    this.highlight = null;
    this.scheduled = false;
  }

  clear() {
    for (const s of this.series) {
      s.xs = [];
      s.ys = [];
    }
    this.draw();
  }

  /** @param {number} i @param {number} x @param {number} y */
  push(i, x, y) {
    if (!Number.isFinite(y)) return;
    this.series[i].xs.push(x);
    this.series[i].ys.push(y);
  }

  /** @param {number} i @param {ArrayLike<number>} xs @param {ArrayLike<number>} ys */
  set(i, xs, ys) {
    this.series[i].xs = Array.from(xs);
    this.series[i].ys = Array.from(ys);
  }

  /** Redraws at the next animation frame (many pushes, one draw). */
  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.draw();
    });
  }

  /** @param {Series} s */
  displayed(s) {
    if (!this.smooth || s.ys.length < 3) return s.ys;
    const out = [];
    let m = s.ys[0];
    for (const y of s.ys) {
      m = this.smooth * m + (1 - this.smooth) * y;
      out.push(m);
    }
    return out;
  }

  draw() {
    const c = this.canvas;
    if (!c.isConnected) return;
    const [W, H, dpr] = fitCanvas(c);
    const ctx = ctx2d(c);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, W, H);
    ctx.scale(dpr, dpr);
    const w = W / dpr;
    const h = H / dpr;
    const font = '12px system-ui, sans-serif';
    ctx.font = font;
    const left = 46;
    const right = 10;
    const top = this.legend ? 24 : 10;
    const bottom = 32;
    const pw = Math.max(10, w - left - right);
    const ph = Math.max(10, h - top - bottom);
    let xmin = Infinity,
      xmax = -Infinity,
      ymin = Infinity,
      ymax = -Infinity;
    const shown = this.series.map((s) => this.displayed(s));
    this.series.forEach((s, i) => {
      for (let j = 0; j < s.xs.length; j++) {
        xmin = Math.min(xmin, s.xs[j]);
        xmax = Math.max(xmax, s.xs[j]);
        ymin = Math.min(ymin, shown[i][j]);
        ymax = Math.max(ymax, shown[i][j]);
      }
    });
    ctx.fillStyle = '#b8bec7';
    ctx.strokeStyle = '#3a414c';
    ctx.lineWidth = 1;
    if (xmin === Infinity) {
      ctx.fillText('no data yet', left + 8, top + ph / 2);
      ctx.strokeRect(left, top, pw, ph);
      return;
    }
    if (this.yMin !== null) ymin = this.yMin;
    if (this.yMax !== null) ymax = this.yMax;
    if (ymax - ymin < 1e-9) {
      ymax += 0.5;
      ymin -= 0.5;
    } else if (this.yMin === null || this.yMax === null) {
      const pad = (ymax - ymin) * 0.05;
      if (this.yMin === null) ymin -= pad;
      if (this.yMax === null) ymax += pad;
    }
    if (xmax - xmin < 1e-9) xmax = xmin + 1;
    const X = (/** @type {number} */ x) => left + ((x - xmin) / (xmax - xmin)) * pw;
    const Y = (/** @type {number} */ y) => top + (1 - (y - ymin) / (ymax - ymin)) * ph;
    // grid and ticks
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    const yt = niceTicks(ymin, ymax, Math.max(2, Math.round(ph / 40)));
    const ystep = yt.length > 1 ? yt[1] - yt[0] : 1;
    for (const t of yt) {
      const y = Y(t);
      ctx.strokeStyle = '#2a3039';
      ctx.beginPath();
      ctx.moveTo(left, y);
      ctx.lineTo(left + pw, y);
      ctx.stroke();
      ctx.fillText(fmt(t, ystep), left - 5, y);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    let xt = niceTicks(xmin, xmax, Math.max(2, Math.round(pw / 70)));
    if (this.xInteger) xt = xt.filter((v) => Number.isInteger(v));
    const xstep = xt.length > 1 ? xt[1] - xt[0] : 1;
    for (const t of xt) ctx.fillText(fmt(t, xstep), X(t), top + ph + 4);
    ctx.strokeStyle = '#3a414c';
    ctx.strokeRect(left, top, pw, ph);
    if (this.xLabel) {
      ctx.textAlign = 'right';
      ctx.fillText(this.xLabel, left + pw, top + ph + 17);
    }
    if (this.yLabel) {
      ctx.textAlign = 'left';
      ctx.textBaseline = 'top';
      ctx.fillText(this.yLabel, 4, 4);
    }
    // marker
    if (this.marker !== null && this.marker >= xmin && this.marker <= xmax) {
      ctx.strokeStyle = '#6b7380';
      ctx.setLineDash([4, 4]);
      ctx.beginPath();
      ctx.moveTo(X(this.marker), top);
      ctx.lineTo(X(this.marker), top + ph);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    // lines: the highlighted one last
    const order = this.series.map((_, i) => i).filter((i) => i !== this.highlight);
    const highlight = this.highlight;
    if (highlight !== null) order.push(highlight);
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, pw, ph);
    ctx.clip();
    for (const i of order) {
      const s = this.series[i];
      const ys = shown[i];
      if (!s.xs.length) continue;
      const hi = this.highlight === i;
      ctx.strokeStyle = s.color;
      ctx.globalAlpha = this.highlight === null || hi ? 1 : 0.45;
      ctx.lineWidth = hi ? 3.5 : s.width || 1.5;
      ctx.setLineDash(s.dash || []);
      ctx.beginPath();
      for (let j = 0; j < s.xs.length; j++) {
        const x = X(s.xs[j]);
        const y = Y(ys[j]);
        if (j) ctx.lineTo(x, y);
        else ctx.moveTo(x, y);
      }
      ctx.stroke();
      if (s.xs.length === 1 || s.points) {
        ctx.fillStyle = s.color;
        for (let j = 0; j < s.xs.length; j++) {
          ctx.beginPath();
          ctx.arc(X(s.xs[j]), Y(ys[j]), hi ? 4 : 3, 0, Math.PI * 2);
          ctx.fill();
        }
      }
      if (s.endLabel) {
        ctx.fillStyle = s.color;
        ctx.textAlign = 'right';
        ctx.textBaseline = 'middle';
        ctx.font = hi ? 'bold 13px system-ui, sans-serif' : font;
        ctx.fillText(s.endLabel, X(s.xs[s.xs.length - 1]) - 3, Y(ys[ys.length - 1]) - 8);
        ctx.font = font;
      }
    }
    ctx.restore();
    ctx.globalAlpha = 1;
    ctx.setLineDash([]);
    // legend
    if (this.legend) {
      ctx.textAlign = 'left';
      ctx.textBaseline = 'middle';
      let x = left;
      for (const s of this.series) {
        if (!s.name) continue;
        ctx.strokeStyle = s.color;
        ctx.lineWidth = 3;
        ctx.setLineDash(s.dash || []);
        ctx.beginPath();
        ctx.moveTo(x, 10);
        ctx.lineTo(x + LEGEND_SWATCH, 10);
        ctx.stroke();
        ctx.setLineDash([]);
        ctx.fillStyle = '#d6dae0';
        ctx.fillText(s.name, x + LEGEND_SWATCH + LEGEND_TEXT_GAP, 10);
        x += LEGEND_SWATCH + LEGEND_TEXT_GAP + ctx.measureText(s.name).width + LEGEND_GAP;
      }
    }
  }
}

/**
 * Paints `values` (n numbers) as a cols×rows grid of cells into ImageData at (ox, oy), one
 * pixel per unit; scaled up later with `imageSmoothingEnabled = false`.
 * @param {ImageData} imageData @param {ArrayLike<number>} values @param {number} offset @param {number} n
 * @param {number} cols @param {number} ox @param {number} oy @param {number} lo @param {number} hi
 */
export function heatGrid(imageData, values, offset, n, cols, ox, oy, lo, hi) {
  const W = imageData.width;
  const d = imageData.data;
  const span = hi - lo || 1;
  for (let u = 0; u < n; u++) {
    const x = ox + (u % cols);
    const y = oy + Math.floor(u / cols);
    const [r, g, b] = viridis((values[offset + u] - lo) / span);
    const o = (y * W + x) * 4;
    d[o] = r;
    d[o + 1] = g;
    d[o + 2] = b;
    d[o + 3] = 255;
  }
}

/** Columns of a square-ish grid for n units (100 -> 10, 500 -> 25, 2000 -> 50). @param {number} n */
export function gridCols(n) {
  let c = Math.ceil(Math.sqrt(n));
  for (let k = c; k <= Math.ceil(Math.sqrt(n) * 1.5); k++) if (n % k === 0) return k;
  return c;
}
