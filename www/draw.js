// @ts-check
// Drawing pad and MNIST-style preprocessing.
//
// The pad records strokes (lists of points in [0,1]² of the pad) and paints them smoothly on
// the visible canvas. The model input is rasterised from the stroke list, never read back from
// the visible canvas: `rasterize(strokes, shape)` fits the ink's bounding box into the image
// less a margin of INK_MARGIN pixels on every side (as MNIST's digits) keeping the aspect ratio, draws
// the strokes with a thick anti-aliased pen into an image of the core's shape (the catalog's
// `image`) and then shifts them (sub-pixel, by drawing again) so that the centre of mass sits at
// the centre, as in the making of MNIST.

import { ctx2d } from './dom.js';

/** @typedef {import('./protocol.js').ImageShape} ImageShape */
/** A point of a stroke, in [0,1]² of the pad. @typedef {[number, number]} Point */
/** @typedef {{ax: number, ay: number, bx: number, by: number, x0: number, x1: number, y0: number, y1: number}} Segment */

const INK_MARGIN = 4; // the ink's bounding box is fitted into the image less this margin on every side
const PEN = 1.25; // pen radius in output pixels (MNIST strokes are about 2-3 px wide)
const SOFT = 0.9; // width of the soft edge in output pixels
const SUB = 3; // supersampling per axis

/** Distance² from (px,py) to segment (ax,ay)-(bx,by). @param {number} px @param {number} py @param {number} ax @param {number} ay @param {number} bx @param {number} by */
function segDist2(px, py, ax, ay, bx, by) {
  const dx = bx - ax;
  const dy = by - ay;
  const l2 = dx * dx + dy * dy;
  let t = l2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / l2 : 0;
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  const ex = ax + t * dx - px;
  const ey = ay + t * dy - py;
  return ex * ex + ey * ey;
}

/** Paints segments (already in output pixel units) into an image of `shape`. @param {Segment[]} segs @param {ImageShape} shape */
function paint(segs, { rows, cols }) {
  const out = new Float32Array(rows * cols);
  if (!segs.length) return out;
  const reach = PEN + SOFT;
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < cols; x++) {
      // segments near this pixel
      const near = [];
      for (const s of segs) {
        if (x + 1 + reach < s.x0 || x - reach > s.x1 || y + 1 + reach < s.y0 || y - reach > s.y1) continue;
        near.push(s);
      }
      if (!near.length) continue;
      let acc = 0;
      for (let sy = 0; sy < SUB; sy++) {
        for (let sx = 0; sx < SUB; sx++) {
          const px = x + (sx + 0.5) / SUB;
          const py = y + (sy + 0.5) / SUB;
          let d2 = Infinity;
          for (const s of near) {
            const d = segDist2(px, py, s.ax, s.ay, s.bx, s.by);
            if (d < d2) d2 = d;
          }
          const d = Math.sqrt(d2);
          // full ink inside the pen, a linear fall-off over SOFT pixels
          const v = d <= PEN ? 1 : d >= PEN + SOFT ? 0 : 1 - (d - PEN) / SOFT;
          acc += v;
        }
      }
      out[y * cols + x] = acc / (SUB * SUB);
    }
  }
  return out;
}

/** @param {Point[][]} strokes @param {number} scale @param {number} ox @param {number} oy */
function toSegments(strokes, scale, ox, oy) {
  /** @type {Segment[]} */
  const segs = [];
  for (const st of strokes) {
    if (!st.length) continue;
    const pts = st.map((p) => /** @type {Point} */ ([p[0] * scale + ox, p[1] * scale + oy]));
    if (pts.length === 1) pts.push(pts[0]);
    for (let i = 1; i < pts.length; i++) {
      const [ax, ay] = pts[i - 1];
      const [bx, by] = pts[i];
      segs.push({ ax, ay, bx, by, x0: Math.min(ax, bx), x1: Math.max(ax, bx), y0: Math.min(ay, by), y1: Math.max(ay, by) });
    }
  }
  return segs;
}

/** Ink bounding box of strokes (points in any unit), or null when there is no point. @param {Point[][]} strokes */
export function bounds(strokes) {
  let x0 = Infinity,
    y0 = Infinity,
    x1 = -Infinity,
    y1 = -Infinity;
  for (const st of strokes)
    for (const [x, y] of st) {
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  return x0 === Infinity ? null : { x0, y0, x1, y1 };
}

/** Centre of mass (x, y) of an image of `shape`, in pixel units (pixel centres at i+0.5). @param {ArrayLike<number>} img @param {ImageShape} shape */
export function centreOfMass(img, { rows, cols }) {
  let m = 0,
    cx = 0,
    cy = 0;
  for (let y = 0; y < rows; y++)
    for (let x = 0; x < cols; x++) {
      const v = img[y * cols + x];
      m += v;
      cx += v * (x + 0.5);
      cy += v * (y + 0.5);
    }
  return m > 0 ? { x: cx / m, y: cy / m, mass: m } : null;
}

/** Strokes (points in [0,1]², any aspect) → an image of `shape` in [0,1], MNIST style; an
 * all-zero image when there is no ink. @param {Point[][]} strokes @param {ImageShape} shape */
export function rasterize(strokes, shape) {
  const { rows, cols } = shape;
  const b = bounds(strokes);
  if (!b) return new Float32Array(rows * cols);
  const w = b.x1 - b.x0;
  const h = b.y1 - b.y0;
  // the pen's own width counts towards the box
  const inner = Math.min(rows, cols) - 2 * INK_MARGIN - 2 * PEN;
  const ext = Math.max(w, h);
  // every drawing is scaled to the box, however small (as in MNIST); only a tap (a dot) is
  // not blown up into a disc
  const scale = inner / Math.max(ext, 0.03);
  // first pass: centre the bounding box
  const ox = cols / 2 - (b.x0 + w / 2) * scale;
  const oy = rows / 2 - (b.y0 + h / 2) * scale;
  const first = paint(toSegments(strokes, scale, ox, oy), shape);
  const com = centreOfMass(first, shape);
  if (!com) return first;
  // second pass: the centre of mass at the centre of the field
  return paint(toSegments(strokes, scale, ox + cols / 2 - com.x, oy + rows / 2 - com.y), shape);
}

/**
 * Draws an image of `shape` (floats in [0,1], or bytes with max=255; image `offset` / pixels of
 * a batch) into a canvas of its size, white ink on black.
 * @param {HTMLCanvasElement} canvas @param {ArrayLike<number>} img @param {ImageShape} shape @param {{max?: number, offset?: number}} [options]
 */
export function drawDigit(canvas, img, { rows, cols, pixels }, { max = 1, offset = 0 } = {}) {
  const ctx = ctx2d(canvas);
  if (canvas.width !== cols || canvas.height !== rows) {
    canvas.width = cols;
    canvas.height = rows;
  }
  const data = ctx.createImageData(cols, rows);
  for (let i = 0; i < pixels; i++) {
    const v = Math.max(0, Math.min(255, Math.round((img[offset + i] / max) * 255)));
    data.data[i * 4] = v;
    data.data[i * 4 + 1] = v;
    data.data[i * 4 + 2] = v;
    data.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(data, 0, 0);
}

/**
 * Writes image `index` of a batch of images of `shape` into ImageData at (tx, ty).
 * @param {ImageData} imageData @param {ArrayLike<number>} img @param {ImageShape} shape @param {number} index @param {number} tx @param {number} ty
 * @param {{max?: number, tint?: [number, number, number]|null}} [options]
 */
export function blitDigit(imageData, img, { rows, cols, pixels }, index, tx, ty, { max = 1, tint = null } = {}) {
  const W = imageData.width;
  const d = imageData.data;
  const off = index * pixels;
  for (let y = 0; y < rows; y++)
    for (let x = 0; x < cols; x++) {
      const v = Math.max(0, Math.min(1, img[off + y * cols + x] / max));
      const o = ((ty + y) * W + tx + x) * 4;
      if (tint) {
        d[o] = Math.round(tint[0] * (1 - v) + 255 * v);
        d[o + 1] = Math.round(tint[1] * (1 - v) + 255 * v);
        d[o + 2] = Math.round(tint[2] * (1 - v) + 255 * v);
      } else {
        d[o] = d[o + 1] = d[o + 2] = Math.round(v * 255);
      }
      d[o + 3] = 255;
    }
}

/** What changed on the pad. @typedef {'draw'|'end'|'clear'|'undo'|'image'} PadChange */

/** The drawing pad: strokes, undo, a background image (a test digit), change callbacks. */
export class DrawPad {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{onChange?: (why: PadChange) => void, shape: () => ImageShape|null}} options `shape`: the
   *   images' shape (the core's; null before it is known)
   */
  constructor(canvas, { onChange, shape }) {
    this.canvas = canvas;
    this.ctx = ctx2d(canvas);
    this.shape = shape;
    /** @type {Point[][]} */
    this.strokes = [];
    /** @type {Point[]|null} */
    this.current = null;
    /** @type {Float32Array|null} an image shown instead of strokes (a loaded test image) */
    this.image = null;
    /** @type {{strokes: Point[][], image: Float32Array|null}[]} the undo stack */
    this.history = [];
    this.onChange = onChange || (() => {});
    /** @type {number|null} */
    this.pointer = null;
    canvas.addEventListener('pointerdown', (e) => this.down(e));
    canvas.addEventListener('pointermove', (e) => this.move(e));
    canvas.addEventListener('pointerup', (e) => this.up(e));
    canvas.addEventListener('pointercancel', (e) => this.cancel(e));
    canvas.addEventListener('lostpointercapture', (e) => this.up(e));
    this.resize();
    if (typeof ResizeObserver !== 'undefined') new ResizeObserver(() => this.resize()).observe(canvas);
  }

  resize() {
    const r = this.canvas.getBoundingClientRect();
    const dpr = Math.min(3, window.devicePixelRatio || 1);
    const w = Math.max(1, Math.round(r.width * dpr));
    const h = Math.max(1, Math.round(r.height * dpr));
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
      this.render();
    }
  }

  /** @param {PointerEvent} e @returns {Point} */
  point(e) {
    const r = this.canvas.getBoundingClientRect();
    const s = Math.max(r.width, r.height) || 1;
    return [(e.clientX - r.left) / s, (e.clientY - r.top) / s];
  }

  /** @param {PointerEvent} e */
  down(e) {
    if (this.pointer !== null || (e.pointerType === 'mouse' && e.button !== 0)) return;
    e.preventDefault();
    this.pointer = e.pointerId;
    try {
      this.canvas.setPointerCapture(e.pointerId);
    } catch (_) {
      /* synthetic events may have no capturable pointer */
    }
    this.history.push({ strokes: this.strokes, image: this.image });
    if (this.image) {
      this.image = null;
      this.strokes = [];
    }
    const current = [this.point(e)];
    this.current = current;
    this.strokes = [...this.strokes, current];
    this.render();
    this.onChange('draw');
  }

  /** @param {PointerEvent} e */
  move(e) {
    const current = this.current;
    if (e.pointerId !== this.pointer || !current) return;
    e.preventDefault();
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    for (const ev of events.length ? events : [e]) {
      const p = this.point(ev);
      const last = current[current.length - 1];
      if (Math.hypot(p[0] - last[0], p[1] - last[1]) > 0.002) current.push(p);
    }
    this.render();
    this.onChange('draw');
  }

  /** @param {PointerEvent} e */
  up(e) {
    if (e.pointerId !== this.pointer) return;
    this.pointer = null;
    this.current = null;
    this.onChange('end');
  }

  /** @param {PointerEvent} e */
  cancel(e) {
    // the stroke is kept as drawn so far: a palm or a scroll gesture ends it
    this.up(e);
  }

  clear() {
    if (!this.strokes.length && !this.image) return;
    this.history.push({ strokes: this.strokes, image: this.image });
    this.strokes = [];
    this.image = null;
    this.render();
    this.onChange('clear');
  }

  undo() {
    const prev = this.history.pop();
    if (!prev) return;
    this.strokes = prev.strokes;
    this.image = prev.image;
    this.render();
    this.onChange('undo');
  }

  /** @param {Float32Array|null} img */
  setImage(img) {
    this.history.push({ strokes: this.strokes, image: this.image });
    this.strokes = [];
    this.image = img;
    this.render();
    this.onChange('image');
  }

  isEmpty() {
    return !this.image && !this.strokes.some((s) => s.length);
  }

  /** The model input (an image of the core's shape), or null when the pad is empty. */
  input() {
    if (this.image) return this.image;
    const shape = this.shape();
    if (this.isEmpty() || !shape) return null;
    return rasterize(this.strokes, shape);
  }

  render() {
    const { ctx, canvas } = this;
    const W = canvas.width;
    const H = canvas.height;
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, W, H);
    const shape = this.shape();
    if (this.image && shape) {
      const off = document.createElement('canvas');
      drawDigit(off, this.image, shape);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(off, 0, 0, W, H);
      return;
    }
    const s = Math.max(W, H);
    ctx.strokeStyle = '#fff';
    ctx.fillStyle = '#fff';
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.lineWidth = s * 0.055;
    for (const st of this.strokes) {
      if (!st.length) continue;
      if (st.length === 1) {
        ctx.beginPath();
        ctx.arc(st[0][0] * s, st[0][1] * s, ctx.lineWidth / 2, 0, Math.PI * 2);
        ctx.fill();
        continue;
      }
      // quadratic curves through the midpoints: smooth strokes from sparse points
      ctx.beginPath();
      ctx.moveTo(st[0][0] * s, st[0][1] * s);
      for (let i = 1; i < st.length - 1; i++) {
        const mx = ((st[i][0] + st[i + 1][0]) / 2) * s;
        const my = ((st[i][1] + st[i + 1][1]) / 2) * s;
        ctx.quadraticCurveTo(st[i][0] * s, st[i][1] * s, mx, my);
      }
      const last = st[st.length - 1];
      ctx.lineTo(last[0] * s, last[1] * s);
      ctx.stroke();
    }
  }
}
