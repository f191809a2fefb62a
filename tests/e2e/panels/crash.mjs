// A crashed worker is restarted, the page says so, and the model comes back.

import { assert, call, openPage, tab, waitText } from '../lib.mjs';

/** @param {import('../lib.mjs').ModeContext} ctx */
export async function run(ctx) {
  const { test: T } = ctx;
  const { page, close } = await openPage(ctx);
  try {
    await T('a crashed worker is restarted, the page says so and the model comes back', async () => {
      const model = (await call(page, 'status')).model;
      await tab(page, 'draw');
      await page.evaluate(() => window.pff.call('crash').catch(() => {}));
      await waitText(page, '#message', /restarted/, 30000);
      await page.waitForFunction(() => window.pff.state.status && window.pff.state.status.model, null, { timeout: 30000 });
      const s = await call(page, 'status');
      assert(s.model && s.model.config.preset === model.config.preset, `model after restart: ${JSON.stringify(s.model)}`);
      await page.click('[data-testid="random-digit"]');
      await waitText(page, '[data-testid="prediction"]', /^[0-9]$/);
      return (await page.textContent('#message')).trim();
    });
  } finally {
    await close();
  }
}
