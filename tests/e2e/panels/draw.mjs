// The Draw panel: strokes and live verdicts, Undo and Clear, random test digits, an empty pad
// and a single dot.

import { HAVE_PRETRAINED, TWO, assert, drawStroke, openPage, rng, shoot, tab, waitText } from '../lib.mjs';

/** @param {import('../lib.mjs').ModeContext} ctx */
export async function run(ctx) {
  const { isolation, test: T } = ctx;
  const { page, close } = await openPage(ctx);
  try {
    await T('drawing a vertical stroke gives a live prediction; Clear returns to neutral', async () => {
      await tab(page, 'draw');
      await page.click('[data-testid="clear"]');
      await page.waitForFunction(() => document.querySelector('[data-testid="prediction"]').textContent === '');
      await drawStroke(page, [
        [0.5, 0.15],
        [0.5, 0.35],
        [0.51, 0.55],
        [0.51, 0.75],
        [0.51, 0.87],
      ]);
      const p = await waitText(page, '[data-testid="prediction"]', /^[0-9]$/, 15000);
      const bars = await page.$$eval('[data-testid="probabilities"] li', (lis) => lis.map((li) => parseFloat(li.querySelector('.fill').style.width)));
      assert(bars.length === 10 && Math.abs(bars.reduce((a, b) => a + b, 0) - 100) < 2, `bars ${bars}`);
      const win = await page.$eval('[data-testid="probabilities"] li.win .d', (e) => e.textContent);
      assert(win === p, `highlighted ${win} but prediction ${p}`);
      const ink = await page.evaluate(() => Array.from(window.pff.state.input).reduce((a, b) => a + b, 0));
      assert(ink > 20 && ink < 200, `input ink ${ink}`);
      if (isolation) await shoot(page, 'desktop-draw');
      await page.click('#undo');
      await page.waitForFunction(() => document.querySelector('[data-testid="prediction"]').textContent === '');
      await drawStroke(page, [
        [0.5, 0.15],
        [0.5, 0.87],
      ]);
      await waitText(page, '[data-testid="prediction"]', /^[0-9]$/);
      await page.click('[data-testid="clear"]');
      await page.waitForFunction(() => document.querySelector('[data-testid="prediction"]').textContent === '');
      if (HAVE_PRETRAINED) {
        assert(p === '1', `the pretrained model reads a drawn "1" as ${p}`);
        await drawStroke(page, TWO);
        const two = await waitText(page, '[data-testid="prediction"]', /^[0-9]$/, 15000);
        assert(two === '2', `the pretrained model reads a drawn "2" as ${two}`);
        await page.click('[data-testid="clear"]');
        await page.waitForFunction(() => document.querySelector('[data-testid="prediction"]').textContent === '');
      }
      return `a "1" stroke is read as ${p}`;
    });

    await T('random test digits in Draw: the label and a prediction show', async () => {
      for (let i = 0; i < 3; i++) {
        await page.click('[data-testid="random-digit"]');
        await waitText(page, '#draw-source', /Test digit #\d+, labelled \d/);
        await waitText(page, '[data-testid="prediction"]', /^[0-9]$/);
      }
    });

    await T(`100 random test digits: at least ${HAVE_PRETRAINED ? 95 : 80} classified as labelled`, async () => {
      const rand = rng(2024);
      const idx = Array.from({ length: 100 }, () => Math.floor(rand() * 10000));
      const r = await page.evaluate(async (ids) => {
        let right = 0;
        for (const i of ids) {
          const img = await window.pff.call('images', { split: 'test', start: i, count: 1 });
          const c = await window.pff.call('classify', { pixels: Float32Array.from(img.pixels, (v) => v / 255) });
          if (c.prediction === img.labels[0]) right++;
        }
        return right;
      }, idx);
      assert(r >= (HAVE_PRETRAINED ? 95 : 80), `${r} of 100 right`);
      return `${r} of 100 right`;
    });

    await T('an empty drawing is neutral and a single dot gets a verdict, without an error', async () => {
      await tab(page, 'draw');
      await page.click('[data-testid="clear"]');
      await page.waitForFunction(() => document.querySelector('[data-testid="prediction"]').textContent === '');
      const box = await page.locator('[data-testid="draw-canvas"]').boundingBox();
      await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2); // one dot
      const p = await waitText(page, '[data-testid="prediction"]', /^[0-9]$/, 15000);
      await page.click('[data-testid="clear"]');
      await page.waitForFunction(() => document.querySelector('[data-testid="prediction"]').textContent === '');
      return `a dot is read as "${p}"`;
    });
  } finally {
    await close();
  }
}
