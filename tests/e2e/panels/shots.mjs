// Screenshots of every panel at desktop and phone widths, to artifacts/screenshots/.

import fs from 'node:fs';
import { DESKTOP, PHONE, SHOTS, TWO, drawStroke, openPage, shoot, sleep, tab, waitText } from '../lib.mjs';

/** @param {import('../lib.mjs').ModeContext} ctx */
export async function run(ctx) {
  const { test: T } = ctx;
  const { page, close } = await openPage(ctx);
  try {
    await T('screenshots of every panel at desktop and phone widths', async () => {
      for (const [vp, tag] of [
        [DESKTOP, 'desktop'],
        [PHONE, 'phone'],
      ]) {
        await page.setViewportSize(vp);
        await sleep(200);
        for (const p of ['draw', 'settle', 'dream', 'train', 'data', 'weights']) {
          await tab(page, p);
          if (p === 'draw') {
            await page.click('[data-testid="clear"]');
            await drawStroke(page, TWO);
            await waitText(page, '[data-testid="prediction"]', /^[0-9]$/);
          }
          if (p === 'settle') await page.waitForFunction(() => !window.pff.views.settle.busy && window.pff.views.settle.trace, null, { timeout: 20000 });
          if (p === 'dream') await page.waitForFunction(() => !window.pff.views.dream.busy, null, { timeout: 60000 });
          await sleep(300);
          await shoot(page, `${tag}-${p}`);
        }
      }
      await page.setViewportSize(DESKTOP);
      return `${fs.readdirSync(SHOTS).length} files in artifacts/screenshots`;
    });
  } finally {
    await close();
  }
}
