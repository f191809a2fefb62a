// Drives www/bench.html headless with each build in one run, on a cross-origin isolated server:
// the relaxed-SIMD build (what the page picks here), the plain threaded build (?build=threads),
// the single-thread build (?build=single) and the GPU build (?build=webgpu, in a browser of its
// own with SwiftShader's software adapter: its numbers are not GPU speed); prints the results
// as JSON.
//
//   cd tests/e2e && node bench.mjs [--mode relaxed|threads|single|webgpu] [--out FILE]
// Screenshots of the page go to artifacts/screenshots/bench-<mode>.png.

import fs from 'node:fs';
import path from 'node:path';
import { ARTIFACTS, CHROMIUM_WEBGPU_ARGS, launch, startServer, watch } from './lib.mjs';

const args = process.argv.slice(2);
const only = args.includes('--mode') ? args[args.indexOf('--mode') + 1] : null;
const out = args.includes('--out') ? args[args.indexOf('--out') + 1] : null;
const modes = only ? [only] : ['relaxed', 'threads', 'single', 'webgpu'];

const server = await startServer({ isolation: true });
const browser = await launch();
const gpuBrowser = modes.includes('webgpu') ? await launch({ args: CHROMIUM_WEBGPU_ARGS }) : null;
const results = {};
let failed = false;
try {
  for (const mode of modes) {
    const page = await (mode === 'webgpu' && gpuBrowser ? gpuBrowser : browser).context.newPage();
    const seen = watch(page, server.url);
    const t0 = Date.now();
    // on SwiftShader the web preset's batches take minutes: the GPU build times tiny's
    await page.goto(`${server.url}bench.html?build=${mode}${mode === 'webgpu' ? '&train=tiny' : ''}`);
    await page.waitForFunction(() => window.benchResult, null, { timeout: 600000, polling: 500 });
    const r = await page.evaluate(() => window.benchResult);
    if (!r.error && r.build !== mode) r.error = `asked for pkg/${mode}, ran pkg/${r.build}`;
    r.wallSeconds = (Date.now() - t0) / 1000;
    if (r.error || seen.errors.length || seen.offOrigin.length) {
      failed = true;
      r.consoleErrors = seen.errors;
      r.offOrigin = seen.offOrigin;
    }
    results[mode] = r;
    fs.mkdirSync(path.join(ARTIFACTS, 'screenshots'), { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'screenshots', `bench-${mode}.png`), fullPage: true });
    console.error(
      `${mode}: ${r.error ? `error: ${r.error}` : `${r.matmul.map((m) => (m.gflops ? m.gflops.toFixed(1) : 'skip')).join(' / ')} GFLOP/s, classify ${r.classifyMs.toFixed(1)} ms, settle ${r.settleMs.toFixed(1)} ms, dream100 ${r.dream100Ms.toFixed(0)} ms, t-SNE ${r.tsne.points} points ${r.tsne.seconds.toFixed(1)} s, train ${r.trainSamplesPerSec.toFixed(0)} samples/s`} (${r.wallSeconds.toFixed(0)} s)`,
    );
    if (r.webgpu)
      console.error(
        `webgpu column (${r.webgpu.adapter}): ${r.webgpu.matmul.map((m) => (m.gflops === null ? 'skip' : m.gflops.toFixed(2))).join(' / ')} GFLOP/s, classify ${r.webgpu.classify_one_ms.toFixed(1)} ms, readback ${r.webgpu.readback_ms.toFixed(2)} ms, train (${r.trainPreset}) ${r.trainSamplesPerSec.toFixed(1)} samples/s`,
      );
    await page.close();
  }
} finally {
  await browser.close();
  if (gpuBrowser) await gpuBrowser.close();
  await server.stop();
}
const json = JSON.stringify({ server: server.kind, results }, null, 2);
if (out) fs.writeFileSync(out, json);
console.log(json);
process.exit(failed ? 1 : 0);
