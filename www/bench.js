// @ts-check
// The benchmark page: everything runs in the benchmark worker (bench-worker.js), which the
// demo page never loads. Sets window.benchResult (a plain object) when done, or {error}.

import { $ } from './dom.js';
import { Engine, errorInfo } from './engine.js';
import { runtimeLabel, wantedBuild } from './wasm-build.js';

/** @typedef {import('./bench-worker.js').BenchRequests} BenchRequests */
/**
 * What the page shows and leaves for the e2e tests: the worker's measures, where they were taken
 * and how long it all took; or why it failed.
 * @typedef {import('./bench-worker.js').BenchResult & {modelSource: string, userAgent: string, hardwareConcurrency: number,
 *   crossOriginIsolated: boolean, totalSeconds: number}} PageResult
 */

/**
 * A request to the benchmark worker: the engine's `call`, typed by the benchmark worker's own
 * messages (BenchRequests) instead of the engine worker's.
 * @template {keyof BenchRequests} K
 * @param {Engine} eng
 * @param {K} type
 * @param {BenchRequests[K]['payload']} payload
 * @returns {Promise<BenchRequests[K]['result']>}
 */
function call(eng, type, payload) {
  const untyped = /** @type {(type: string, payload: unknown) => Promise<BenchRequests[K]['result']>} */ (/** @type {unknown} */ (eng.call.bind(eng)));
  return untyped(type, payload);
}

function row(/** @type {string} */ name, /** @type {string} */ value) {
  const tr = document.createElement('tr');
  const th = document.createElement('th');
  th.scope = 'row';
  th.textContent = name;
  const td = document.createElement('td');
  td.textContent = value;
  tr.append(th, td);
  $('#bench-rows').append(tr);
}

function say(/** @type {string} */ text) {
  $('#message').textContent = text;
}

/** Leaves the result (or the error) where tests/e2e/bench.mjs reads it. @param {PageResult | {error: string}} r */
function publish(r) {
  /** @type {Window & {benchResult?: PageResult | {error: string}}} */ (window).benchResult = r;
}

/** Fills the table and the JSON with `r`. @param {PageResult} r */
function show(r) {
  row('build', `pkg/${r.build} (${runtimeLabel(r)}), wasm ${r.version}`);
  row('model', `${r.modelSource}: ${r.model.preset}, 2×${r.model.hidden} units, K ${r.model.steps}`);
  for (const m of r.matmul) row(`matmul ${m.m}×${m.k} · ${m.k}×${m.n}`, m.gflops === undefined ? `skipped: ${m.skipped}` : `${m.gflops.toFixed(2)} GFLOP/s`);
  row('classify one digit', `${r.classifyMs.toFixed(1)} ms`);
  row('settle trace of one digit', `${r.settleMs.toFixed(1)} ms`);
  row('dream 100 digits', `${r.dream100Ms.toFixed(1)} ms`);
  row(
    `latent map of ${r.tsne.points} test images`,
    `PCA after ${r.tsne.firstMs.toFixed(0)} ms, t-SNE (${r.tsne.iterations} iterations) after ${r.tsne.seconds.toFixed(1)} s`,
  );
  row(`training (${r.trainPreset} preset${r.webgpu ? ', on the GPU' : ''})`, `${r.trainSamplesPerSec.toFixed(0)} samples/s over ${r.trainBatches} batches`);
  if (r.webgpu) {
    row('WebGPU adapter', `${r.webgpu.adapter} (${r.webgpu.timing})`);
    row('WebGPU readback of 4 bytes', `${r.webgpu.readback_ms.toFixed(2)} ms`);
    for (const m of r.webgpu.matmul)
      row(
        `WebGPU matmul ${m.m}×${m.k} · ${m.k}×${m.n}`,
        m.gflops === null || m.ms === null ? `skipped: ${m.skipped}` : `${m.gflops.toFixed(2)} GFLOP/s (${m.ms.toFixed(2)} ms)`,
      );
    row('WebGPU classify one digit', `${r.webgpu.classify_one_ms.toFixed(1)} ms (the page classifies on the CPU: ${r.classifyMs.toFixed(1)} ms)`);
  }
  $('#bench-json').textContent = JSON.stringify(r, null, 2);
}

async function main() {
  const mode = wantedBuild(location.search);
  const t0 = performance.now();
  const eng = await Engine.start({ url: new URL('bench-worker.js', import.meta.url), init: { mode } });
  const rt = eng.runtime;
  if (rt) $('#threads').textContent = rt.mode === 'threads' || rt.build === 'webgpu' ? runtimeLabel(rt) : `${runtimeLabel(rt)}: ${rt.reason}`;
  say('measuring… (about a minute)');
  // ?train=tiny times the training of another preset than the pretrained model's (a software
  // GPU is too slow for the web preset's batches)
  const trainPreset = new URLSearchParams(location.search).get('train') || undefined;
  const measured = await call(eng, 'bench', { reps: 3, budgetMs: 15000, train: 2, trainPreset });
  /** @type {PageResult} */
  const r = {
    ...measured,
    modelSource: 'the pretrained model',
    userAgent: navigator.userAgent,
    hardwareConcurrency: navigator.hardwareConcurrency,
    crossOriginIsolated: self.crossOriginIsolated,
    totalSeconds: (performance.now() - t0) / 1000,
  };
  show(r);
  say(`done in ${r.totalSeconds.toFixed(0)} s`);
  publish(r);
  eng.terminate();
}

main().catch((e) => {
  const { message } = errorInfo(e);
  say(`failed: ${message}`);
  publish({ error: message });
});
