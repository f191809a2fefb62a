// The page starts: the thread mode and build, the kernels, the first visit's download, the test
// images that come only when a view needs them, a tampered test shard, the default model.

import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { HAVE_PRETRAINED, ROOT, TWO, assert, call, drawStroke, firstVisit, openPage, tab, waitText } from '../lib.mjs';
import { declaredTypes, keyProblems } from '../protocol-keys.mjs';

/** @param {import('../lib.mjs').ModeContext} ctx */
export async function run(ctx) {
  const { isolation, test: T } = ctx;
  const { page, close } = await openPage(ctx, { model: false });
  try {
    await T('the worker starts and the page reports the thread mode', async () => {
      assert(await page.evaluate(() => window.pffBooted), 'boot failed');
      const rt = await page.evaluate(() => window.pff.state.runtime);
      const cores = await page.evaluate(() => navigator.hardwareConcurrency);
      const badge = (await page.textContent('[data-testid="threads"]')).trim();
      if (isolation) {
        assert(await page.evaluate(() => window.crossOriginIsolated), 'page not cross-origin isolated');
        assert(rt.mode === 'threads', `mode ${rt.mode} (${rt.reason})`);
        assert(rt.threads === cores, `threads ${rt.threads} != hardwareConcurrency ${cores}`);
        // Chromium has relaxed SIMD: the fused multiply-add build is picked
        assert(rt.build === 'relaxed' && rt.simd === 'relaxed-simd', `build ${rt.build}, ${rt.simd}`);
        assert(badge === `${cores} threads · relaxed SIMD`, `badge "${badge}"`);
      } else {
        assert(rt.mode === 'single' && rt.build === 'single' && rt.threads === 1, `mode ${rt.mode} threads ${rt.threads}`);
        assert(/^1 thread · SIMD128: this host does not allow cross-origin isolation/.test(badge), `badge "${badge}"`);
      }
      return `${badge}, wasm ${rt.version}`;
    });

    await T('matmul of this build equals a naive product (and the single build, when threaded)', async () => {
      // the kernel check lives in the benchmark worker, which the page itself never loads;
      // two shapes: many rows (both operands packed, two k blocks, ragged edges) and a few
      // rows (the relaxed kernel reads b in place)
      const shapes = [
        { m: 200, k: 300, n: 150, seed: 3 },
        { m: 7, k: 600, n: 203, seed: 4 },
      ];
      const rs = await page.evaluate(async (ps) => {
        const { Engine } = await import('./engine.js');
        const bench = await Engine.start({ url: new URL('bench-worker.js', location.href) });
        try {
          const out = [];
          for (const p of ps) out.push(await bench.call('matmulCheck', p));
          return out;
        } finally {
          bench.terminate();
        }
      }, shapes);
      for (const [i, r] of rs.entries()) {
        const { m, k, n } = shapes[i];
        assert(r.length === m * n, 'wrong size');
        assert(r.maxDiffNaive <= 1e-4, `${m}×${k}×${n}: max |diff| to naive JS = ${r.maxDiffNaive}`);
        if (isolation) {
          assert(r.mode === 'threads' && r.threads > 1, `ran in ${r.mode} with ${r.threads} threads`);
          assert(r.maxDiffSingle !== null && r.maxDiffSingle <= 1e-4, `${m}×${k}×${n}: max |diff| to single build = ${r.maxDiffSingle}`);
        }
      }
      return rs
        .map(
          (r) =>
            `${r.build}: max diff naive ${r.maxDiffNaive.toExponential(1)}${r.maxDiffSingle !== null ? `, single ${r.maxDiffSingle.toExponential(1)}` : ''}`,
        )
        .join('; ');
    });

    if (HAVE_PRETRAINED) {
      await T('the pretrained model loads by default', async () => {
        await page.evaluate(() => window.pffReady);
        const s = await call(page, 'status');
        assert(s.model && /pretrained/.test(s.model.name), JSON.stringify(s.model));
        return `${s.model.config.preset}, ${s.model.params} parameters`;
      });
    } else {
      await T('with no pretrained file the page says no model is loaded', async () => {
        const t = await page.textContent('[data-testid="status"]');
        assert(/no model loaded/i.test(t), t);
        assert(await page.isVisible('#quick-train'), 'the Draw panel offers no training');
      });
    }

    await T("boundary: the worker's status, runtime and model status have the keys protocol.js declares", async () => {
      // the objects the worker assembles (the core's own are checked in node: panels/boundary.mjs)
      const types = declaredTypes();
      const s = await call(page, 'status');
      const rt = await page.evaluate(() => window.pff.state.runtime);
      const problems = [...keyProblems(types, 'Status', s), ...keyProblems(types, 'Runtime', rt), ...keyProblems(types, 'DatasetStatus', s.dataset)];
      if (s.dataset.noun) problems.push(...keyProblems(types, 'Noun', s.dataset.noun));
      if (s.model) problems.push(...keyProblems(types, 'ModelStatus', s.model), ...keyProblems(types, 'Noun', s.model.noun));
      assert(HAVE_PRETRAINED ? !!s.model : true, 'no model to check');
      assert(problems.length === 0, problems.join('\n'));
    });

    await T('the MNIST test images come when a view first needs them, once', async () => {
      const s0 = await call(page, 'status');
      assert(s0.dataset.name === 'mnist' && !s0.dataset.sizes.test, `loaded at boot: ${JSON.stringify(s0.dataset)}`);
      const [a, b] = await page.evaluate(() => Promise.all([window.pff.testSize(), window.pff.testSize()]));
      assert(a === 10000 && b === 10000, `test sizes ${a}, ${b}`);
      const s = await call(page, 'status');
      assert(s.dataset.name === 'mnist' && s.dataset.sizes.test === 10000, JSON.stringify(s.dataset));
      assert(/MNIST: test 10000/.test(await page.textContent('#data-status')), 'status line');
    });
  } finally {
    await close();
  }

  await T('the first visit transfers at most 5 MB before the first classification of a drawn digit', async () => {
    const { total, names, top, count } = await firstVisit(ctx.url, { watchers: ctx.watchers });
    assert(/\.wasm/.test(names) && /mnist-web\.safetensors/.test(names), `the count missed the engine or the model: ${names}`);
    assert(!/test-000/.test(names), 'the test images were fetched before a view needed them');
    assert(!/pkg\/webgpu\//.test(names), 'the GPU build was fetched without an adapter');
    assert(total <= 5e6, `${(total / 1e6).toFixed(2)} MB transferred (${top})`);
    return `${(total / 1e6).toFixed(2)} MB in ${count} responses (largest: ${top})`;
  });

  await T('a page whose test shard was altered (valid gzip, wrong sha256) names the shard, uses none of it and keeps working', async () => {
    const real = fs.readFileSync(path.join(ROOT, 'data', 'mnist', 'test-000.bin.gz'));
    const raw = zlib.gunzipSync(real);
    raw[raw.length - 100] ^= 0x40; // one pixel of the last image
    const altered = zlib.gzipSync(raw);
    const { page: p2, seen: seen2, url, close: close2 } = await openPage(ctx, { goto: false, allow: [/test-000\.bin\.gz/] });
    await p2.route('**/data/mnist/test-000.bin.gz', (route) => route.fulfill({ status: 200, contentType: 'application/gzip', body: altered }));
    try {
      await p2.goto(url);
      await p2.waitForFunction(() => window.pffBooted, null, { timeout: 60000 });
      // a visitor's first move: "Random test digit" on Draw says which file failed and why
      await tab(p2, 'draw');
      await p2.click('[data-testid="random-digit"]');
      const said = await waitText(p2, '#message', /No test digits are loaded/, 60000);
      assert(/test-000\.bin\.gz/.test(said) && /sha256 mismatch/.test(said), `Draw says: "${said}"`);
      assert((await p2.evaluate(() => window.pff.testSize())) === 0, 'the altered shard was used');
      const msg = await p2.textContent('[data-testid="status"]');
      assert(/test-000\.bin\.gz/.test(msg) && /sha256/.test(msg), `status: ${msg}`);
      const s2 = await call(p2, 'status');
      assert(!s2.dataset.sizes.test, `test images in use: ${JSON.stringify(s2.dataset.sizes)}`);
      const err = await p2.evaluate(() => window.pff.state.dataError);
      assert(err && err.kind === 'corrupt-data' && /test-000\.bin\.gz$/.test(err.file), JSON.stringify(err));
      if (HAVE_PRETRAINED) {
        assert(s2.model && /pretrained/.test(s2.model.name), 'the pretrained model is loaded');
        await tab(p2, 'draw');
        await drawStroke(p2, TWO);
        await waitText(p2, '[data-testid="prediction"]', /^[0-9]$/, 15000);
      }
      assert(seen2.offOrigin.length === 0, seen2.offOrigin.join('\n'));
      return `"${msg.trim().slice(0, 120)}…"`;
    } finally {
      await close2();
    }
  });
}
