// The page's GPU build (pkg/webgpu) end to end, in headless Chromium with SwiftShader's software
// WebGPU adapter (CHROMIUM_WEBGPU_ARGS), served by `pff serve` (cross-origin isolated, so the
// CPU builds it is compared with are the best ones):
//   the page picks pkg/webgpu and the badge names the adapter; a first visit transfers at most
//   5 MB before its first verdict, the GPU build and no CPU build; a drawn "1" and "2" are read
//   right; a seeded run of a few `tiny` batches trains on the GPU and its losses match the same
//   run on a CPU build; pause, resume, stop and export work, and the exported weights load in a
//   CPU build and classify the same; without the flags the page picks a CPU build and says why;
//   a page without cross-origin isolation still uses the GPU.
// SwiftShader runs on the CPU: its timings are not GPU speed (docs/results.md).
//
//   cd tests/e2e && node webgpu.mjs
//
// The last line is `N passed, M failed`; the exit code is non-zero on any failure.

import { CHROMIUM_WEBGPU_ARGS, HAVE_PRETRAINED, ONE, Runner, TWO, assert, drawStroke, firstVisit, launch, startServer, waitText, watch } from './lib.mjs';

/** A run small enough for a software GPU: 5 batches of 50, 100 dev images, no test, no prior. */
const SEEDED = { preset: 'tiny', dataset: 'mnist', seed: 11, epochs: 1, train_limit: 250, dev_limit: 100, no_test: true, no_prior: true };
/** Relative tolerance of a loss on the GPU against the CPU (same Philox noise; f32 rounding apart). */
const LOSS_TOLERANCE = 1e-5;

const runner = new Runner('pff e2e (WebGPU)');
const watchers = [];

/** Opens the page in a browser of its own, with the SwiftShader flags unless `gpu` is false. */
async function openPage(base, { gpu = true, query = '' } = {}) {
  const browser = await launch({ args: gpu ? CHROMIUM_WEBGPU_ARGS : undefined });
  const page = await browser.context.newPage();
  watchers.push(watch(page, base));
  await page.goto(`${base}?test${query ? `&${query}` : ''}`);
  await page.waitForFunction(() => window.pffBooted, null, { timeout: 120000 });
  if (HAVE_PRETRAINED) await page.waitForFunction(() => window.pffReady, null, { timeout: 120000 });
  return { page, close: () => browser.close() };
}

/** Trains `request` in the page from scratch; the batches' losses, the history and the run's result. */
const trainInPage = (page, request) =>
  page.evaluate(async (request) => {
    const app = window.pff;
    const batches = [];
    const off = app.engine.on('progress', (ev) => ev.batches && batches.push(...ev.batches));
    await app.call('loadDataset', { name: 'mnist', splits: { train: request.train_limit, dev: request.dev_limit } });
    const result = await app.call('train', { request, from: 'scratch' });
    off();
    return { batches, history: result.history };
  }, request);

/** The largest relative difference between two runs' batch losses. */
function lossGap(a, b) {
  assert(a.length === b.length && a.length > 0, `${a.length} batches against ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++)
    for (const k of ['goodness_loss', 'head_loss', 'gen_loss', 'forward_ce']) {
      const gap = Math.abs(a[i][k] - b[i][k]) / Math.max(1e-6, Math.abs(b[i][k]));
      assert(Number.isFinite(gap), `batch ${i} ${k}: ${a[i][k]} against ${b[i][k]}`);
      worst = Math.max(worst, gap);
    }
  return worst;
}

/** The predictions and probabilities of the first `n` test images under the page's model. */
const classifyTest = (page, n) =>
  page.evaluate(async (n) => {
    const app = window.pff;
    await app.call('loadDataset', { name: 'mnist', splits: { test: n } });
    const { pixels } = await app.call('images', { split: 'test', start: 0, count: n });
    const size = pixels.length / n;
    const out = [];
    for (let i = 0; i < n; i++) out.push(await app.call('classify', { pixels: Float32Array.from(pixels.subarray(i * size, (i + 1) * size), (v) => v / 255) }));
    return out.map((r) => ({ prediction: r.prediction, probabilities: r.probs }));
  }, n);

const server = await startServer({ isolation: true });
console.log(`  server: ${server.kind} at ${server.url}`);
const t0 = Date.now();
try {
  const gpuPage = await openPage(server.url);
  const cpuPage = await openPage(server.url, { gpu: false });
  const { page } = gpuPage;
  try {
    await runner.test('with an adapter the page picks the WebGPU build, and the badge names it', async () => {
      const rt = await page.evaluate(() => window.pff.state.runtime);
      assert(rt.build === 'webgpu' && typeof rt.gpu === 'string' && rt.gpu.length > 0, JSON.stringify(rt));
      const badge = (await page.textContent('[data-testid="threads"]')).trim();
      assert(badge === `WebGPU · ${rt.gpu}`, `badge "${badge}"`);
      const paper = await page.$eval('#train-preset option[value="paper"]', (o) => ({ disabled: o.disabled, text: o.textContent }));
      assert(!paper.disabled && !/needs a GPU/.test(paper.text), `the Train panel's paper preset: ${JSON.stringify(paper)}`);
      return `${badge}; the Train panel offers ${paper.text}`;
    });

    await runner.test('a first visit with an adapter transfers at most 5 MB before the first classification, the GPU build and no other', async () => {
      const { total, names, top, count } = await firstVisit(server.url, { args: CHROMIUM_WEBGPU_ARGS, watchers });
      assert(/pkg\/webgpu\/pff_bg\.wasm/.test(names), `the GPU build was not fetched: ${names}`);
      assert(!/pkg\/(relaxed|threads|single)\//.test(names), `a CPU build was fetched too: ${names}`);
      assert(total <= 5e6, `${(total / 1e6).toFixed(2)} MB transferred (${top})`);
      return `${(total / 1e6).toFixed(2)} MB in ${count} responses (largest: ${top})`;
    });

    await runner.test('a drawn "1" and "2" are read right in the GPU build', async () => {
      const read = async (stroke) => {
        await page.click('#tab-draw');
        await page.click('[data-testid="clear"]');
        await drawStroke(page, stroke);
        const p = await waitText(page, '[data-testid="prediction"]', /^[0-9]$/, 30000);
        await page.click('[data-testid="clear"]');
        return p;
      };
      const [one, two] = [await read(ONE), await read(TWO)];
      assert(one === '1' && two === '2', `read "${one}" and "${two}"`);
      return 'read 1 and 2';
    });

    await runner.test(
      `a seeded run of ${SEEDED.train_limit / 50} tiny batches trains on the GPU, its losses within ${LOSS_TOLERANCE} of a CPU build's`,
      async () => {
        const onGpu = await trainInPage(page, SEEDED);
        const onCpu = await trainInPage(cpuPage.page, SEEDED);
        const cpuBuild = await cpuPage.page.evaluate(() => window.pff.state.runtime.build);
        assert(cpuBuild !== 'webgpu', cpuBuild);
        const devices = onGpu.history.map((r) => r.device || 'cpu');
        assert(
          devices.slice(1).every((d) => d === 'gpu'),
          `epochs trained on ${devices}`,
        );
        const gap = lossGap(onGpu.batches, onCpu.batches);
        assert(gap < LOSS_TOLERANCE, `largest relative loss difference ${gap}`);
        const [g, c] = [onGpu.history.at(-1).dev_accuracy, onCpu.history.at(-1).dev_accuracy];
        assert(Math.abs(g - c) <= 0.02, `dev accuracy ${g} on the GPU, ${c} on the CPU`);
        return `${onGpu.batches.length} batches, largest relative loss difference ${gap.toExponential(1)}; dev ${(g * 100).toFixed(0)} % (GPU) / ${(c * 100).toFixed(0)} % (${cpuBuild})`;
      },
    );

    await runner.test('pause, resume and stop work on the GPU; the exported weights load in a CPU build and classify the same', async () => {
      const states = await page.evaluate(async () => {
        const app = window.pff;
        const request = { preset: 'tiny', dataset: 'mnist', seed: 5, epochs: 3, train_limit: 500, dev_limit: 100, no_test: true, no_prior: true };
        await app.call('loadDataset', { name: 'mnist', splits: { train: 500, dev: 100 } });
        let started;
        const first = new Promise((r) => (started = r));
        const off = app.engine.on('progress', (ev) => ev.batches && ev.batches.length && started());
        const done = app.call('train', { request, from: 'scratch' });
        await first;
        const seen = [(await app.call('pause', {})).state];
        await new Promise((r) => setTimeout(r, 500));
        seen.push((await app.call('status', {})).training);
        seen.push((await app.call('resume', {})).state);
        seen.push((await app.call('stop', {})).state);
        const result = await done;
        off();
        seen.push(String(result.stopped), String(result.history.length));
        return seen;
      });
      assert(states.slice(0, 5).join() === 'paused,paused,running,stopping,true', states.join());
      const { bytes } = await page.evaluate(async () => ({ bytes: Array.from((await window.pff.call('exportWeights', {})).bytes) }));
      await cpuPage.page.evaluate(async (b) => {
        await window.pff.call('loadWeights', { bytes: new Uint8Array(b), name: 'trained-on-webgpu.safetensors' });
        await window.pff.modelChanged('loaded');
      }, bytes);
      const [here, there] = [await classifyTest(page, 20), await classifyTest(cpuPage.page, 20)];
      const differ = here.filter((r, i) => r.prediction !== there[i].prediction).length;
      const worst = Math.max(...here.flatMap((r, i) => r.probabilities.map((p, k) => Math.abs(p - there[i].probabilities[k]))));
      assert(differ === 0 && worst < 1e-4, `${differ} of 20 predictions differ; largest probability difference ${worst}`);
      return `${states[5]} epochs recorded; 20 test images: the same predictions, probabilities within ${worst.toExponential(1)}`;
    });

    await runner.test('without an adapter the page picks a CPU build and says why', async () => {
      const rt = await cpuPage.page.evaluate(() => window.pff.state.runtime);
      assert(rt.build !== 'webgpu' && rt.gpu === null && /WebGPU/.test(rt.gpu_reason || ''), JSON.stringify(rt));
      const title = await cpuPage.page.getAttribute('[data-testid="threads"]', 'title');
      assert(title.includes(`no GPU: ${rt.gpu_reason}`), `badge title "${title}"`);
      const paper = await cpuPage.page.$eval('#train-preset option[value="paper"]', (o) => ({ disabled: o.disabled, text: o.textContent }));
      assert(paper.disabled && /needs a GPU/.test(paper.text), `the Train panel's paper preset on a CPU build: ${JSON.stringify(paper)}`);
      const forced = await openPage(server.url, { gpu: false, query: 'build=webgpu' });
      try {
        const frt = await forced.page.evaluate(() => window.pff.state.runtime);
        assert(frt.build !== 'webgpu' && frt.gpu_reason === rt.gpu_reason, JSON.stringify(frt));
      } finally {
        await forced.close();
      }
      return `${rt.build} build: ${rt.gpu_reason}; the Train panel lists "${paper.text}", disabled`;
    });
  } finally {
    await gpuPage.close();
    await cpuPage.close();
  }
  await runner.test('a page without cross-origin isolation still uses the GPU', async () => {
    const plain = await startServer({ isolation: false });
    try {
      const p = await openPage(plain.url);
      try {
        const [rt, isolated] = await p.page.evaluate(() => [window.pff.state.runtime, self.crossOriginIsolated]);
        assert(!isolated && rt.build === 'webgpu', `isolated ${isolated}, ${JSON.stringify(rt)}`);
        return `not isolated: ${rt.build} build on ${rt.gpu}`;
      } finally {
        await p.close();
      }
    } finally {
      await plain.stop();
    }
  });

  await runner.test('no console errors and no requests to other origins', async () => {
    const errors = watchers.flatMap((w) => w.errors);
    const offOrigin = watchers.flatMap((w) => w.offOrigin);
    assert(errors.length === 0, errors.join('\n'));
    assert(offOrigin.length === 0, offOrigin.join('\n'));
    return `${watchers.length} pages watched`;
  });
} catch (e) {
  runner.results.push({ name: 'setup', status: 'failed', error: e });
  console.log(`  ✘ setup: ${e.stack || e}`);
} finally {
  await server.stop();
}
const c = runner.counts();
console.log(`\n${((Date.now() - t0) / 1000).toFixed(0)} s`);
console.log(`${c.passed} passed, ${c.failed} failed`);
process.exit(c.failed ? 1 : 0);
