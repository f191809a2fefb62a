// The engine's answers (classify, settle, dream, interpolation, the latent map), the Settle
// panel's steps and hypotheses, and the Dream panel's samples and its forming t-SNE map.

import { assert, call, openPage, shoot, sleep, tab, waitText } from '../lib.mjs';

/** @param {import('../lib.mjs').ModeContext} ctx */
export async function run(ctx) {
  const { isolation, test: T } = ctx;
  const { page, close } = await openPage(ctx);
  try {
    await T('classify, settle, dream, interpolation and the latent map return well-formed results', async () => {
      await page.evaluate(() => window.pff.testSize()); // the test images, as a view would ask for them
      const img = await call(page, 'images', { split: 'test', start: 0, count: 1 });
      const px = Array.from(img.pixels, (v) => v / 255);
      const label = img.labels[0];
      const model = (await call(page, 'status')).model;
      const r = await page.evaluate(async (p) => {
        const pixels = new Float32Array(p);
        if (!window.pff.state.status.model.prior) {
          // pretrained files may come without the generative prior: fit one as Dream does
          await window.pff.call('loadDataset', { name: 'mnist', splits: { dev: 2000 } });
          await window.pff.call('fitPrior', { split: 'dev', limit: 2000 });
        }
        const c = await window.pff.call('classify', { pixels });
        const s = await window.pff.call('settle', { pixels, label: c.prediction });
        const d = await window.pff.call('dream', { n: 10, component: -1, seed: 4 });
        const path = await window.pff.call('interpolate', { frames: 16, seed: 4 });
        const map = await window.pff.call('latentMap', { split: 'test', start: 0, count: 50 });
        const finite = (a) => Array.from(a).every(Number.isFinite);
        return {
          probsSum: Array.from(c.probs).reduce((a, b) => a + b, 0),
          probsLen: c.probs.length,
          fwdLen: c.forward.length,
          pred: c.prediction,
          fpred: c.forward_prediction,
          steps: s.steps,
          hidden: s.hidden,
          classes: s.classes,
          gLen: s.goodness.length,
          eLen: s.energy.length,
          z1: s.z1.length,
          z2: s.z2.length,
          pLen: s.prediction.length,
          scores: s.scores.length,
          finite: finite(c.probs) && finite(s.goodness) && finite(s.z1) && finite(s.prediction) && finite(d.images),
          dImages: d.images.length,
          dLat: d.latents.length,
          dComp: d.components.length,
          zDim: d.latents.length / d.n,
          back: path.images.length,
          mapN: map.n,
          mapPoints: map.points.length,
          mapLabels: map.labels.length,
          dRange: [Math.min(...d.images), Math.max(...d.images)],
        };
      }, px);
      assert(r.probsLen === 10 && Math.abs(r.probsSum - 1) < 1e-3 && r.fwdLen === 10, `classify ${JSON.stringify(r)}`);
      assert(r.pred >= 0 && r.pred < 10 && r.fpred >= 0 && r.fpred < 10, 'prediction range');
      const { steps: K, hidden: H } = r;
      assert(K === model.config.steps && H === model.config.hidden && r.classes === 10, `settle dims ${K} ${H}`);
      assert(
        r.gLen === K * 10 && r.eLen === K * 20 && r.z1 === K * H && r.z2 === K * H && r.pLen === K * 784 && r.scores === 10,
        `settle shapes ${JSON.stringify(r)}`,
      );
      assert(r.dImages === 10 * 784 && r.zDim === model.config.latent && r.dComp === 10 && r.back === 16 * 784, `dream shapes ${JSON.stringify(r)}`);
      assert(r.mapN === 50 && r.mapPoints === 100 && r.mapLabels === 50, `latent map shapes ${JSON.stringify(r)}`);
      assert(r.finite, 'non-finite values');
      assert(r.dRange[0] >= -1e-3 && r.dRange[1] <= 1 + 1e-3, `sample range ${r.dRange}`);
      return `K ${K}, H ${H}, G ${r.zDim}; test #0 (a ${label}) -> ${r.pred}`;
    });

    await T('Settle shows K steps and the winner has the best final goodness', async () => {
      const model = (await call(page, 'status')).model;
      // a test digit the model gets right
      const pick = await page.evaluate(async () => {
        await window.pff.testSize();
        for (let i = 0; i < 50; i++) {
          const img = await window.pff.call('images', { split: 'test', start: i, count: 1 });
          const px = Float32Array.from(img.pixels, (v) => v / 255);
          const c = await window.pff.call('classify', { pixels: px });
          if (c.prediction === img.labels[0] && Math.max(...c.probs) > 0.6) {
            window.pff.setInput(px, { kind: 'test', index: i, label: img.labels[0] });
            return { i, label: img.labels[0] };
          }
        }
        return null;
      });
      assert(pick, 'no confidently right digit among the first 50');
      await tab(page, 'settle');
      await page.waitForFunction(
        () => document.querySelector('#panel-settle').dataset.steps && window.pff.views.settle.trace && !window.pff.views.settle.busy,
        null,
        { timeout: 20000 },
      );
      const d = await page.evaluate(() => ({
        ...document.querySelector('#panel-settle').dataset,
        max: document.querySelector('#settle-scrub').max,
        lines: window.pff.views.settle.chart.series.map((s) => s.xs.length),
      }));
      assert(Number(d.steps) === model.config.steps, `steps ${d.steps} != ${model.config.steps}`);
      assert(Number(d.max) === model.config.steps - 1, `scrubber max ${d.max}`);
      assert(d.lines.length === 10 && d.lines.every((n) => n === model.config.steps), `lines ${d.lines}`);
      assert(Number(d.winner) === pick.label, `winner ${d.winner}, label ${pick.label}`);
      assert(d.finalBest === d.winner, `best final goodness ${d.finalBest} != winner ${d.winner}`);
      // stepping and playing
      await page.click('#settle-step');
      assert((await page.textContent('#settle-step-out')).startsWith('2 /'), 'step button');
      await page.click('#settle-play');
      await page.waitForFunction((k) => document.querySelector('#settle-step-out').textContent.startsWith(`${k} /`), model.config.steps, { timeout: 15000 });
      // another hypothesis
      await page.click(`#settle-hyp label[data-value="${(pick.label + 1) % 10}"]`);
      await waitText(page, '#settle-hyp-now', new RegExp(`^${(pick.label + 1) % 10}$`));
      await page.click('#settle-hyp label[data-value="auto"]');
      await waitText(page, '#settle-hyp-now', new RegExp(`^${pick.label}$`));
      if (isolation) await shoot(page, 'desktop-settle');
      return `test #${pick.i} (${pick.label}), K ${d.steps}`;
    });

    await T('Dream shows 100 distinct, non-blank digits; Resample changes them', async () => {
      await tab(page, 'dream');
      await page.waitForFunction(() => document.querySelector('#dream-grid').dataset.seed && !window.pff.views.dream.busy && window.pff.views.dream.map, null, {
        timeout: 60000,
      });
      const tiles = () =>
        page.evaluate(() => {
          const c = document.querySelector('[data-testid="dream-grid"]');
          const d = c.getContext('2d').getImageData(0, 0, 280, 280).data;
          const out = [];
          for (let t = 0; t < 100; t++) {
            const tx = (t % 10) * 28;
            const ty = Math.floor(t / 10) * 28;
            const v = [];
            for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) v.push(d[((ty + y) * 280 + tx + x) * 4]);
            out.push(v);
          }
          return out;
        });
      const a = await tiles();
      const ink = a.map((v) => v.reduce((s, x) => s + x, 0) / 255);
      assert(
        ink.every((s) => s > 15),
        `blank tiles: ${ink.filter((s) => s <= 15).length}`,
      );
      let dup = 0;
      for (let i = 0; i < 100; i++)
        for (let j = i + 1; j < 100; j++) {
          let diff = 0;
          for (let k = 0; k < 784; k++) diff += Math.abs(a[i][k] - a[j][k]);
          if (diff / 255 < 1) dup++;
        }
      assert(dup === 0, `${dup} duplicate pairs`);
      const seed = await page.getAttribute('#dream-grid', 'data-seed');
      await page.click('[data-testid="resample"]');
      await page
        .waitForFunction((s) => document.querySelector('#dream-grid').dataset.seed !== s, seed)
        .catch(async (e) => {
          throw new Error(`${e.message}; the panel says: ${await page.textContent('#dream-note')}`);
        });
      const b = await tiles();
      assert(
        a.some((v, i) => v.some((x, k) => x !== b[i][k])),
        'resample changed nothing',
      );
      return `mean ink ${(ink.reduce((s, x) => s + x, 0) / 100).toFixed(0)} px per digit`;
    });

    await T('Dream: the latent map is PCA at once, then forms into t-SNE and settles; leaving cancels it; hover shows, click draws', async () => {
      await tab(page, 'dream');
      const map = () =>
        page.evaluate(() => {
          const m = window.pff.views.dream.map;
          return (
            m && { kind: m.kind, iteration: m.iteration, iterations: m.iterations, done: m.done, cancelled: m.cancelled, head: Array.from(m.proj.slice(0, 40)) }
          );
        });
      const forming = () =>
        page.waitForFunction(
          () => {
            const m = window.pff.views.dream.map;
            return m && m.kind === 'tsne' && m.iteration > 0;
          },
          null,
          { timeout: 120000 },
        );
      await forming();
      assert(await page.isHidden('#map-hover'), 'the hover tile shows with no point under the pointer');
      // leaving the panel stops the map where it is
      await tab(page, 'draw');
      const left = await map();
      await sleep(1500);
      const later = await map();
      assert(!left.done && later.cancelled && later.iteration === left.iteration, `the map went on without the panel: ${left.iteration} → ${later.iteration}`);
      // back on the panel it starts over from PCA and forms: positions change, then settle
      await tab(page, 'dream');
      await forming();
      const early = await map();
      await page.waitForFunction(() => window.pff.views.dream.map.done, null, { timeout: 300000, polling: 500 });
      const done = await map();
      assert(done.iteration === done.iterations && done.kind === 'tsne', JSON.stringify({ ...done, head: undefined }));
      assert(
        early.head.some((v, i) => v !== done.head[i]),
        'the positions did not change as the map formed',
      );
      await sleep(800);
      assert(
        (await map()).head.every((v, i) => v === done.head[i]),
        'the positions still move after the map is done',
      );
      assert(/t-SNE, \d+ iterations/.test(await page.textContent('#map-state')), await page.textContent('#map-state'));
      const m = await page.evaluate(() => {
        // the point nearest the middle of the map
        const mp = window.pff.views.dream.map;
        const r = document.querySelector('#latent-map').getBoundingClientRect();
        let best = 0;
        let bd = Infinity;
        for (let i = 0; i < mp.n; i++) {
          const d = (mp.screen[2 * i] - r.width / 2) ** 2 + (mp.screen[2 * i + 1] - r.height / 2) ** 2;
          if (d < bd) {
            bd = d;
            best = i;
          }
        }
        return { x: mp.screen[2 * best], y: mp.screen[2 * best + 1], label: mp.labels[best] };
      });
      await page.locator('#latent-map').hover({ position: { x: m.x, y: m.y } });
      await page.waitForFunction(() => !document.querySelector('#map-hover').hidden, null, { timeout: 5000 });
      if (isolation) await shoot(page, 'desktop-dream');
      await page.locator('#latent-map').click({ position: { x: m.x, y: m.y } });
      await page.waitForFunction(() => !document.querySelector('#panel-draw').hidden);
      await waitText(page, '#draw-source', /Test digit #\d+/);
      return `${done.iterations} iterations; clicked a ${m.label}`;
    });
  } finally {
    await close();
  }
}
