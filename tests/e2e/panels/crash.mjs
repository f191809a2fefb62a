// A crashed worker is restarted, the page says so, and the model comes back; the test hook that
// crashes it answers only a page opened with ?test.

import { assert, call, openPage, tab, waitText } from '../lib.mjs';

/** @param {import('../lib.mjs').ModeContext} ctx */
export async function run(ctx) {
  const { test: T } = ctx;
  const { page, close } = await openPage(ctx);
  try {
    await T('a crashed worker is restarted, the page says so and the model comes back (the crash hook answers only ?test)', async () => {
      const model = (await call(page, 'status')).model;
      await tab(page, 'draw');
      await page.evaluate(() => window.pff.call('crash').catch(() => {}));
      await waitText(page, '#message', /restarted/, 30000);
      await page.waitForFunction(() => window.pff.state.status && window.pff.state.status.model, null, { timeout: 30000 });
      const s = await call(page, 'status');
      assert(s.model && s.model.config.preset === model.config.preset, `model after restart: ${JSON.stringify(s.model)}`);
      await page.click('[data-testid="random-digit"]');
      await waitText(page, '[data-testid="prediction"]', /^[0-9]$/);
      const said = (await page.textContent('#message')).trim();
      // a visitor's page (no ?test) has no test hooks
      const plain = await openPage(ctx, { test: false, model: false });
      try {
        for (const hook of ['crash', 'memory']) {
          const r = await plain.page.evaluate(
            (h) =>
              window.pff.call(h, {}).then(
                () => null,
                (e) => `${e.kind}: ${e.message}`,
              ),
            hook,
          );
          assert(r && /unknown request type/.test(r), `a page without ?test answered ${hook}: ${r}`);
        }
      } finally {
        await plain.close();
      }
      return said;
    });
  } finally {
    await close();
  }
}
