// Soak: mixed calls and a training run leave the wasm memory and the JS heap bounded, and a worker
// killed in the middle of a run comes back with the last good model.

import { assert, call, openPage, waitText } from '../lib.mjs';

const SOAK_CALLS = Number(process.env.PFF_SOAK_CALLS) || 2000; // PFF_SOAK_CALLS=50000 for a long soak

/** @param {import('../lib.mjs').ModeContext} ctx */
export async function run(ctx) {
  const { test: T } = ctx;
  const { page, close } = await openPage(ctx);
  try {
    await T(
      'soak: 2,000 mixed calls and a training run leave the wasm memory and the JS heap bounded; a worker killed mid-training comes back with the last good model',
      async () => {
        const cdp = await page.context().newCDPSession(page);
        const heap = async () => {
          await cdp.send('HeapProfiler.collectGarbage');
          return (await cdp.send('Runtime.getHeapUsage')).usedSize;
        };
        const calls = (n, seed) =>
          page.evaluate(
            async ([n, seed]) => {
              const app = window.pff;
              const size = await app.testSize();
              let s = seed;
              const next = () => (s = (s * 1103515245 + 12345) >>> 0) / 4294967296;
              for (let i = 0; i < n; i++) {
                const img = await app.call('images', { split: 'test', start: Math.floor(next() * size), count: 1 });
                const pixels = Float32Array.from(img.pixels, (v) => v / 255);
                const kind = i % 10;
                if (kind < 6) await app.call('classify', { pixels });
                else if (kind < 8) await app.call('settle', { pixels, label: -1 });
                else if (kind < 9) await app.call('dream', { n: 100, component: -1, seed: i });
                else app.setInput(pixels, { kind: 'test', index: i, label: img.labels[0] }); // the page's own views react
              }
            },
            [n, seed],
          );
        await calls(200, 1); // warm-up
        const wasm0 = (await call(page, 'memory')).wasm_bytes;
        const heap0 = await heap();
        // a training run of the tiny preset (100 batches), then the model as it was
        await page.evaluate(async () => {
          const app = window.pff;
          const saved = (await app.call('exportWeights', {})).bytes;
          const name = app.state.status.model.name;
          await app.call('loadDataset', { name: 'mnist', splits: { train: 5000, dev: 200 } });
          await app.call('train', {
            request: { preset: 'tiny', dataset: 'mnist', seed: 9, epochs: 1, train_limit: 5000, dev_limit: 200, no_test: true, no_prior: true },
            from: 'scratch',
          });
          await app.call('loadWeights', { bytes: saved, name });
          await app.modelChanged('restored');
        });
        await calls(SOAK_CALLS, 2);
        const wasm1 = (await call(page, 'memory')).wasm_bytes;
        const heap1 = await heap();
        const MB = 1024 * 1024;
        console.log(
          `      soak: wasm memory ${(wasm0 / MB).toFixed(1)} -> ${(wasm1 / MB).toFixed(1)} MB, page JS heap ${(heap0 / MB).toFixed(1)} -> ${(heap1 / MB).toFixed(1)} MB after ${SOAK_CALLS} calls`,
        );
        // A leak of one dreamed batch (100 digits, 313 KB) per dream call would add about 60 MB,
        // one decoded image per call about 6 MB; allocator slack after warm-up stays well below.
        assert(wasm1 - wasm0 <= 16 * MB, `wasm memory grew from ${(wasm0 / MB).toFixed(1)} to ${(wasm1 / MB).toFixed(1)} MB`);
        assert(heap1 - heap0 <= 8 * MB, `page JS heap grew from ${(heap0 / MB).toFixed(1)} to ${(heap1 / MB).toFixed(1)} MB`);
        // the worker killed in the middle of a training run
        const before = (await call(page, 'status')).model.name;
        await page.evaluate(async () => {
          const app = window.pff;
          app
            .call('train', {
              request: { preset: 'tiny', dataset: 'mnist', seed: 9, epochs: 3, train_limit: 5000, dev_limit: 200, no_test: true, no_prior: true },
              from: 'scratch',
            })
            .catch(() => {});
          await new Promise((r) => setTimeout(r, 1500));
          await app.call('crash', {}).catch(() => {});
        });
        await waitText(page, '#message', /restarted/, 30000);
        await page.waitForFunction(() => window.pff.state.status && window.pff.state.status.model && window.pff.state.status.training === 'idle', null, {
          timeout: 30000,
        });
        const after = await call(page, 'status');
        assert(after.model.name === before, `after the crash the model is ${after.model.name}, not ${before}`);
        const c = await call(page, 'classify', { pixels: Array.from({ length: 784 }, () => 0.1) });
        assert(c.prediction >= 0 && c.prediction < 10, 'the restored model classifies');
        return `wasm memory ${(wasm0 / MB).toFixed(1)} -> ${(wasm1 / MB).toFixed(1)} MB, page JS heap ${(heap0 / MB).toFixed(1)} -> ${(heap1 / MB).toFixed(1)} MB over ${SOAK_CALLS} calls and 100 training batches; restored "${after.model.name}"`;
      },
    );
  } finally {
    await close();
  }
}
