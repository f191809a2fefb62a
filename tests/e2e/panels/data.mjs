// The Data panel: an evaluation, its confusion matrix, the misclassified filter and inspection in
// Draw; and the Fashion-MNIST model, one click away, named in every view.

import fs from 'node:fs';
import { FASHION, HAVE_PRETRAINED, assert, call, openPage, shoot, tab, waitText } from '../lib.mjs';

/** @param {import('../lib.mjs').ModeContext} ctx */
export async function run(ctx) {
  const { isolation, test: T } = ctx;
  const { page, close } = await openPage(ctx);
  try {
    await T('Data: evaluation, confusion matrix, misclassified filter, inspect in Draw', async () => {
      await tab(page, 'data');
      await page.selectOption('#data-count', '1000');
      await page.click('#data-eval');
      await page.waitForFunction(() => document.querySelector('#panel-data').dataset.accuracy, null, { timeout: 60000 });
      const acc = Number(await page.getAttribute('#panel-data', 'data-accuracy'));
      const cells = await page.$$eval('#confusion td', (tds) => tds.map((t) => Number(t.textContent)));
      assert(cells.length === 100 && cells.reduce((a, b) => a + b, 0) === 1000, `confusion sums to ${cells.reduce((a, b) => a + b, 0)}`);
      const diag = cells.filter((_, i) => i % 11 === 0).reduce((a, b) => a + b, 0);
      assert(Math.abs(diag / 1000 - acc) < 1e-9, `diagonal ${diag} vs accuracy ${acc}`);
      assert((await page.$$('#data-tiles .tile')).length === 96, 'first page of tiles');
      if (isolation) await shoot(page, 'desktop-data');
      await page.check('#data-wrong');
      const wrong = await page.$$eval('#data-tiles .tile', (ts) => ts.map((t) => t.classList.contains('wrong')));
      assert(wrong.length > 0 && wrong.every(Boolean), `filter shows ${wrong.length} tiles, ${wrong.filter(Boolean).length} wrong`);
      await page.click('#data-tiles .tile');
      await page.uncheck('#data-wrong');
      await page.click('#data-to-draw');
      await page.waitForFunction(() => !document.querySelector('#panel-draw').hidden);
      await waitText(page, '[data-testid="prediction"]', /^[0-9]$/);
      return `accuracy on 1000 test digits ${(acc * 100).toFixed(1)} %`;
    });

    if (fs.existsSync(FASHION) && HAVE_PRETRAINED) {
      await T('the Fashion-MNIST model is one click away, brings its test images, and every view names its classes', async () => {
        const NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
        await page.evaluate(() => delete document.querySelector('#dream-components').dataset.labels);
        await tab(page, 'weights');
        await page.click('#weights-model-fashion-web');
        await waitText(page, '#weights-message', /Loaded the pretrained fashion-web model/);
        // the page loads the test split of the model's dataset
        await page.waitForFunction(() => window.pff.state.status.dataset.name === 'fashion', null, { timeout: 60000 });
        assert((await page.evaluate(() => window.pff.testSize())) === 10000, 'the fashion test images');
        const s = await call(page, 'status');
        assert(JSON.stringify(s.model.class_names) === JSON.stringify(NAMES), `model classes ${s.model.class_names}`);
        assert(
          s.dataset.title === 'Fashion-MNIST' && /^Fashion-MNIST: test 10000/.test(await page.textContent('#data-status')),
          await page.textContent('#data-status'),
        );
        // Draw: the bars and the verdict on test image 0 (an ankle boot)
        await tab(page, 'draw');
        const bars = await page.$$eval('[data-testid="probabilities"] li .d', (ds) => ds.map((d) => d.textContent));
        assert(JSON.stringify(bars) === JSON.stringify(NAMES), `bars ${bars}`);
        await page.evaluate(async () => {
          const img = await window.pff.call('images', { split: 'test', start: 0, count: 1 });
          window.pff.setInput(
            Float32Array.from(img.pixels, (v) => v / 255),
            { kind: 'test', index: 0, label: img.labels[0] },
          );
        });
        const verdict = await waitText(page, '[data-testid="prediction"]', /Ankle boot/, 15000);
        assert(/labelled Ankle boot/.test(await page.textContent('#draw-source')), await page.textContent('#draw-source'));
        // Settle: the hypotheses
        await tab(page, 'settle');
        const hyps = await page.$$eval('#settle-hyp label', (ls) => ls.map((l) => l.textContent.trim()));
        assert(hyps.includes('Ankle boot') && hyps.includes('T-shirt/top') && !hyps.some((h) => /^\d/.test(h)), `hypotheses ${hyps}`);
        await page.waitForFunction(() => /Winner: Ankle boot/.test(document.querySelector('#settle-note').textContent), null, { timeout: 30000 });
        // Dream: the components' labels (the shipped model has a prior)
        await tab(page, 'dream');
        await page.waitForFunction(() => document.querySelector('#dream-components').dataset.labels, null, { timeout: 60000 });
        const comps = JSON.parse(await page.getAttribute('#dream-components', 'data-labels'));
        assert(comps.some((c) => NAMES.includes(c)) && comps.every((c) => c === '?' || NAMES.includes(c)), `components ${comps}`);
        // every text says "item" where MNIST's say "digit"
        const words = [];
        for (const p of ['draw', 'settle', 'dream', 'train', 'data', 'weights']) {
          await tab(page, p);
          const text = await page.evaluate(
            () => `${document.body.innerText}\n${[...document.querySelectorAll('[aria-label]')].map((e) => e.getAttribute('aria-label')).join('\n')}`,
          );
          for (const m of text.matchAll(/[^\n]*\bdigits?\b[^\n]*/gi)) words.push(`${p}: ${m[0].trim()}`);
        }
        assert(words.length === 0, `Fashion's page still says "digit":\n${words.join('\n')}`);
        assert((await page.textContent('#random-digit')).trim() === 'Random test item', await page.textContent('#random-digit'));
        // Data: the confusion matrix and the tiles
        await tab(page, 'data');
        await page.selectOption('#data-count', '1000');
        await page.click('#data-eval');
        await page.waitForFunction(() => document.querySelector('#panel-data').dataset.accuracy, null, { timeout: 60000 });
        const heads = await page.$$eval('#confusion th[scope="col"]', (ths) => ths.slice(1).map((t) => t.textContent));
        assert(JSON.stringify(heads) === JSON.stringify(NAMES), `confusion columns ${heads}`);
        const tile = await page.getAttribute('#data-tiles .tile', 'aria-label');
        assert(/labelled Ankle boot/.test(tile), tile);
        const acc = Number(await page.getAttribute('#panel-data', 'data-accuracy'));
        assert(acc > 0.85, `Fashion accuracy on 1000 test images ${acc}`);
        if (isolation) await shoot(page, 'desktop-data-fashion');
        // back to MNIST: digits again
        await tab(page, 'weights');
        await page.click('#weights-pretrained');
        await waitText(page, '#weights-message', /Loaded the pretrained mnist-web/);
        await page.waitForFunction(() => window.pff.state.status.dataset.name === 'mnist', null, { timeout: 60000 });
        assert((await page.evaluate(() => window.pff.testSize())) === 10000, 'the mnist test images');
        await tab(page, 'draw');
        const digits = await page.$$eval('[data-testid="probabilities"] li .d', (ds) => ds.map((d) => d.textContent));
        assert(digits.join('') === '0123456789', `bars ${digits}`);
        assert((await page.textContent('#random-digit')).trim() === 'Random test digit', await page.textContent('#random-digit'));
        assert((await page.textContent('#draw-hint')).startsWith('The 10 label hypotheses'), await page.textContent('#draw-hint'));
        return `"${verdict}" for test image 0; Fashion accuracy on 1000 test images ${(acc * 100).toFixed(1)} %`;
      });
    }
  } finally {
    await close();
  }

  await T(
    "a dataset's manifest is fetched once: the Train form's offer and the loads share the core's store; one not served is not offered, a corrupt one is named",
    async () => {
      const { page: p2, url, close: close2 } = await openPage(ctx, { goto: false, model: false, allow: [/status of 404/] });
      try {
        const fetched = { mnist: 0, fashion: 0 };
        for (const name of /** @type {const} */ (['mnist', 'fashion'])) {
          await p2.route(`**/data/${name}/manifest.json`, (route) => {
            fetched[name]++;
            return route.continue();
          });
        }
        await p2.route('**/data/broken/manifest.json', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: '{"name": "broken", ' }));
        await p2.goto(url);
        await p2.waitForFunction(() => window.pffBooted, null, { timeout: 60000 });
        const r = await p2.evaluate(async () => {
          const app = window.pff;
          const offers = [await app.call('offer', { name: 'mnist' }), await app.call('offer', { name: 'fashion' })];
          await app.call('loadDataset', { name: 'fashion', splits: { test: 1 } }); // the offered store loads its shards
          await app.call('loadDataset', { name: 'mnist', splits: { test: 1 } });
          const missing = await app.call('offer', { name: 'nope' });
          const broken = await app.call('offer', { name: 'broken' }).then(
            () => null,
            (e) => ({ kind: e.kind, file: e.file, message: e.message }),
          );
          return { titles: offers.map((o) => o && o.title), missing, broken, dataset: (await app.call('status', {})).dataset.name };
        });
        assert(r.titles.join() === 'MNIST,Fashion-MNIST' && r.dataset === 'mnist', JSON.stringify(r));
        assert(fetched.mnist === 1 && fetched.fashion === 1, `manifest fetches ${JSON.stringify(fetched)}`);
        assert(r.missing === null, `a dataset not served here is offered: ${JSON.stringify(r.missing)}`);
        assert(r.broken && r.broken.kind === 'corrupt-data' && r.broken.file === 'data/broken/manifest.json', JSON.stringify(r.broken));
        return `fetched ${JSON.stringify(fetched)}; "${r.broken.message.slice(0, 80)}"`;
      } finally {
        await close2();
      }
    },
  );
}
