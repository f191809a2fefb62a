// Training in the page: seeded batches (and the same bits on the plain threaded and the single
// builds), the shipped model's accuracy on this build, the Train panel's presets and a full
// epoch of tiny, and a run that turns to NaN.

import fs from 'node:fs';
import path from 'node:path';
import { ARTIFACTS, HAVE_PRETRAINED, assert, call, exportWeights, openPage, restorePretrained, seededTraining, shoot, sleep, tab, waitText } from '../lib.mjs';

const TRAIN_IMAGES = 20000; // one epoch of tiny: ~25 s on 2 busy cores, dev ≈ 88 %
const mean = (xs, k) => xs.reduce((a, b) => a + b[k], 0) / xs.length;

/** @param {import('../lib.mjs').ModeContext} ctx */
export async function run(ctx) {
  const { isolation, test: T } = ctx;
  const { page, close } = await openPage(ctx);
  try {
    await T('a few training batches lower the loss (then any loaded model is restored)', async () => {
      const r = await seededTraining(page);
      assert(r.batches === 30, `trained ${r.batches} batches`);
      assert(
        mean(r.last, 'goodness_loss') < mean(r.first, 'goodness_loss'),
        `goodness loss ${mean(r.first, 'goodness_loss')} -> ${mean(r.last, 'goodness_loss')}`,
      );
      assert(mean(r.last, 'gen_loss') < mean(r.first, 'gen_loss'), 'generative loss did not fall');
      if (HAVE_PRETRAINED) assert(/pretrained/.test(r.name), `model not restored: ${r.name}`);
      return `${r.build} build: goodness loss ${mean(r.first, 'goodness_loss').toFixed(2)} -> ${mean(r.last, 'goodness_loss').toFixed(2)}, tensors sha256 ${r.hash.slice(0, 12)}…`;
    });

    if (isolation && HAVE_PRETRAINED) {
      await T('the shipped model keeps its test accuracy on this build (all 10,000 test images)', async () => {
        const rt = await page.evaluate(() => window.pff.state.runtime);
        await page.evaluate(() => window.pff.testSize()); // the test images, as a view would ask for them
        const s = await call(page, 'status');
        const ev = await call(page, 'evaluate', { split: 'test' });
        assert(ev.n === 10000, `evaluated ${ev.n} images`);
        const shipped = s.model.meta.test_accuracy;
        assert(Math.abs(ev.accuracy - shipped) <= 0.001, `${rt.build} build: ${ev.accuracy} vs ${shipped} recorded natively`);
        return `${rt.build} build: ${(ev.accuracy * 100).toFixed(2)} % (recorded natively: ${(shipped * 100).toFixed(2)} %)`;
      });
    }

    if (isolation) {
      await T("a browser without relaxed SIMD gets the plain threaded build, which trains to the single build's bits", async () => {
        // Chromium cannot switch relaxed SIMD off, so the page is asked for the fallback
        // (?build=threads); Firefox with relaxed SIMD off takes it on its own (firefox.mjs). The
        // plain threaded and the single-thread builds share their kernels: the same bits (the
        // relaxed build fuses multiply and add, so its last bits may differ).
        const hashes = {};
        let badge = '';
        for (const build of ['threads', 'single']) {
          const p = await openPage(ctx, { query: `?build=${build}` });
          try {
            const rt = await p.page.evaluate(() => window.pff.state.runtime);
            if (build === 'threads') {
              badge = (await p.page.textContent('[data-testid="threads"]')).trim();
              const cores = await p.page.evaluate(() => navigator.hardwareConcurrency);
              assert(rt.build === 'threads' && rt.simd === 'simd128' && rt.threads === cores, JSON.stringify(rt));
              assert(badge === `${cores} threads · SIMD128`, `badge "${badge}"`);
            } else assert(rt.build === 'single' && rt.threads === 1, JSON.stringify(rt));
            const r = await seededTraining(p.page);
            assert(r.batches === 30, `trained ${r.batches} batches`);
            hashes[build] = r.hash;
            assert(p.seen.errors.length === 0, p.seen.errors.join('\n'));
          } finally {
            await p.close();
          }
        }
        assert(hashes.threads === hashes.single, `weights after the same seeded training differ between the builds: ${JSON.stringify(hashes)}`);
        return `${badge}, tensors sha256 ${hashes.threads.slice(0, 12)}… on both builds`;
      });
    }

    await T("the Train panel's web preset trains with the crate's web configuration, and the exported weights say so", async () => {
      await tab(page, 'train');
      const cat = await page.evaluate(() => window.pff.catalog);
      const web = cat.presets.find((p) => p.name === 'web');
      await page.selectOption('#train-preset', 'web');
      assert(Number(await page.inputValue('#train-lr')) === web.config.lr, `the form shows lr ${await page.inputValue('#train-lr')}`);
      await page.fill('#train-size', '1000');
      await page.fill('#train-epochs', '1');
      await page.check('input[name="train-from"][value="scratch"]');
      await page.evaluate(() => window.pff.session.setLastTrain(null));
      await page.click('[data-testid="train-start"]');
      await page.waitForFunction(() => !document.querySelector('[data-testid="train-start"]').disabled && window.pff.state.lastTrain, null, {
        timeout: 240000,
      });
      const w = await exportWeights(page);
      const n = Number(w.readBigUInt64LE(0));
      const md = JSON.parse(w.subarray(8, 8 + n).toString('utf8')).__metadata__;
      const config = JSON.parse(md.config);
      const meta = JSON.parse(md.meta);
      assert(
        config.preset === 'web' && config.lr === web.config.lr && config.hidden === web.config.hidden && config.steps === web.config.steps,
        `exported config ${md.config}`,
      );
      assert(web.config.lr === 1e-3, `the crate's web lr is ${web.config.lr}`);
      assert(meta.epochs === 1 && meta.dataset === 'mnist' && typeof meta.dev_accuracy === 'number', `exported meta ${md.meta}`);
      const best = await page.textContent('[data-testid="best-epoch"]');
      assert(/^1 \(/.test(best), `best epoch shown as "${best}"`);
      if (HAVE_PRETRAINED) await restorePretrained(page);
      return `lr ${config.lr}, best epoch ${best}`;
    });

    if (isolation || !HAVE_PRETRAINED) {
      await T(`train tiny from scratch in the page for one epoch (${TRAIN_IMAGES} images): loss falls, dev accuracy > 80 %`, async () => {
        await tab(page, 'train');
        await page.selectOption('#train-preset', 'tiny');
        await page.fill('#train-size', String(TRAIN_IMAGES));
        await page.fill('#train-epochs', '1');
        await page.fill('#train-seed', '1');
        await page.check('input[name="train-from"][value="scratch"]');
        await page.evaluate(() => {
          window.pff.session.setLastTrain(null);
          window.__progress = [];
          window.pff.on('progress', (ev) => window.__progress.push({ t: performance.now(), phase: ev.phase, n: ev.batches.length }));
        });
        const t0 = Date.now();
        await page.click('[data-testid="train-start"]');
        await page.waitForFunction(() => document.querySelector('#train-pause').disabled === false, null, { timeout: 10000 });
        // pause and resume once
        await sleep(1500);
        await page.click('#train-pause');
        await waitText(page, '#train-eta', /paused/, 10000);
        await page.click('#train-pause');
        await page.waitForFunction(() => !document.querySelector('[data-testid="train-start"]').disabled && window.pff.state.lastTrain, null, {
          timeout: 240000,
        });
        const secs = (Date.now() - t0) / 1000;
        const r = await page.evaluate(() => window.pff.state.lastTrain);
        for (const k of ['goodness_loss', 'gen_loss'])
          assert(mean(r.last_losses, k) < mean(r.first_losses, k), `${k} did not fall: ${mean(r.first_losses, k)} -> ${mean(r.last_losses, k)}`);
        const best = await page.textContent('[data-testid="best-epoch"]');
        assert(
          /^[01] \(/.test(best) && r.model.meta.epochs === Number(best.split(' ')[0]),
          `best epoch "${best}", kept model from epoch ${r.model.meta.epochs}`,
        );
        const devText = await page.textContent('[data-testid="dev-accuracy"]');
        const dev = parseFloat(devText);
        assert(dev > 80, `dev accuracy ${devText}`);
        const ev = await page.evaluate(() => window.__progress);
        const rate = ev.length / ((ev[ev.length - 1].t - ev[0].t) / 1000);
        assert(rate < 6, `${ev.length} progress events at ${rate.toFixed(1)}/s`);
        const charted = await page.evaluate(() => window.pff.views.train.charts.goodness.series[0].xs.length);
        assert(charted === r.batches, `charted ${charted} of ${r.batches} batches`);
        fs.mkdirSync(ARTIFACTS, { recursive: true });
        fs.writeFileSync(path.join(ARTIFACTS, 'tiny-trained.safetensors'), await exportWeights(page));
        await shoot(page, 'desktop-train');
        if (HAVE_PRETRAINED) await restorePretrained(page);
        return `dev ${devText}, best epoch ${best}, ${Math.round(r.samples_per_s)} samples/s, ${secs.toFixed(0)} s, goodness loss ${mean(r.first_losses, 'goodness_loss').toFixed(2)} -> ${mean(r.last_losses, 'goodness_loss').toFixed(2)}`;
      });
    }

    await T('a NaN during in-page training stops with a clear message and keeps the best model so far', async () => {
      const r = await page.evaluate(async () => {
        const app = window.pff;
        const saved = (await app.call('exportWeights', {})).bytes;
        const name = app.state.status.model.name;
        await app.call('loadDataset', { name: 'mnist', splits: { train: 500, dev: 100 } });
        const err = await app
          .call('train', {
            request: {
              preset: 'tiny',
              dataset: 'mnist',
              seed: 3,
              epochs: 2,
              train_limit: 500,
              dev_limit: 100,
              no_test: true,
              no_prior: true,
              set: { lr: 1e30 },
            },
            from: 'scratch',
          })
          .then(
            () => null,
            (e) => ({ kind: e.kind, message: e.message }),
          );
        const s = await app.call('status', {});
        const c = await app.call('classify', { pixels: new Float32Array(s.model.config.input_dim).fill(0.2) });
        await app.call('loadWeights', { bytes: saved, name });
        await app.modelChanged('restored');
        return { err, model: s.model && s.model.name, training: s.training, pred: c.prediction };
      });
      assert(r.err && r.err.kind === 'non-finite' && /non-finite/.test(r.err.message), JSON.stringify(r.err));
      assert(r.model && /until it failed/.test(r.model) && r.training === 'idle', JSON.stringify(r));
      assert(r.pred >= 0 && r.pred < 10, 'the kept model classifies');
      return `"${r.err.message.slice(0, 80)}…"; kept: ${r.model}`;
    });
  } finally {
    await close();
  }
}
