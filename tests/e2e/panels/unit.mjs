// The MNIST-style preprocessing of draw.js, in node (it is a plain ES module): no page, no mode.

import { TWO, assert } from '../lib.mjs';

/** @param {{test: (name: string, fn: () => Promise<any>) => Promise<void>}} ctx */
export async function run({ test: T }) {
  const { rasterize, centreOfMass, bounds } = await import(new URL('../../../www/draw.js', import.meta.url).href);
  const SHAPE = { rows: 28, cols: 28, pixels: 784 }; // MNIST's (the core's catalog.image)
  const SIDE = SHAPE.cols;
  const PIXELS = SHAPE.pixels;
  const inkBox = (img) => {
    const pts = [];
    for (let i = 0; i < PIXELS; i++) if (img[i] > 0.05) pts.push([i % SIDE, Math.floor(i / SIDE)]);
    return bounds([pts]);
  };
  await T('an empty pad gives a blank input', async () => {
    const img = rasterize([], SHAPE);
    assert(img.length === PIXELS && img.every((v) => v === 0), 'not blank');
  });
  await T('strokes are scaled into 20×20 (aspect kept) and centred by mass in 28×28', async () => {
    for (const [name, strokes, tall] of [
      [
        'a "1"',
        [
          [
            [0.5, 0.1],
            [0.5, 0.9],
          ],
        ],
        true,
      ],
      ['a "2"', [TWO], true],
      [
        'a small "-"',
        [
          [
            [0.4, 0.5],
            [0.45, 0.5],
          ],
        ],
        false,
      ],
    ]) {
      const img = rasterize(strokes, SHAPE);
      assert(
        img.every((v) => v >= 0 && v <= 1),
        `${name}: values outside [0,1]`,
      );
      const b = inkBox(img);
      const w = b.x1 - b.x0 + 1;
      const h = b.y1 - b.y0 + 1;
      assert(Math.max(w, h) >= 19 && Math.max(w, h) <= 22, `${name}: ink box ${w}×${h}`);
      if (tall) assert(h >= w, `${name}: aspect lost (${w}×${h})`);
      const c = centreOfMass(img, SHAPE);
      assert(Math.abs(c.x - 14) < 0.3 && Math.abs(c.y - 14) < 0.3, `${name}: centre of mass ${c.x.toFixed(2)}, ${c.y.toFixed(2)}`);
      assert(img.some((v) => v > 0.99) && img.some((v) => v > 0.05 && v < 0.95), `${name}: not anti-aliased`);
    }
  });
  await T('the same shape drawn at any size and place gives the same input', async () => {
    const big = rasterize([TWO], SHAPE);
    const small = rasterize([TWO.map(([x, y]) => [0.1 + x * 0.3, 0.5 + y * 0.3])], SHAPE);
    let d = 0;
    for (let i = 0; i < PIXELS; i++) d = Math.max(d, Math.abs(big[i] - small[i]));
    assert(d < 1e-3, `max difference ${d}`);
  });
}
