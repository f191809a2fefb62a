// @ts-nocheck
// The benchmark page: everything runs in the benchmark worker (bench-worker.js), which the
// demo page never loads. Sets window.benchResult (a plain object) when done, or {error}.

import { Engine } from './engine.js';
import { runtimeLabel, wantedBuild } from './wasm-build.js';

/** @type {(sel: string) => any} */
const $ = (sel) => document.querySelector(sel);

function row(name, value) {
  const tr = document.createElement('tr');
  const th = document.createElement('th');
  th.scope = 'row';
  th.textContent = name;
  const td = document.createElement('td');
  td.textContent = value;
  tr.append(th, td);
  $('#bench-rows').append(tr);
}

function say(text) {
  $('#message').textContent = text;
}

async function main() {
  const mode = wantedBuild(location.search);
  const t0 = performance.now();
  const eng = await Engine.start({ url: new URL('bench-worker.js', import.meta.url), init: { mode } });
  const rt = eng.runtime;
  $('#threads').textContent = rt.mode === 'threads' ? runtimeLabel(rt) : `${runtimeLabel(rt)}: ${rt.reason}`;
  const model = 'the pretrained model';
  say('measuring… (about a minute)');
  const r = await eng.call('bench', {
    reps: 3,
    budgetMs: 15000,
    train: 2,
  });
  r.modelSource = model;
  r.userAgent = navigator.userAgent;
  r.hardwareConcurrency = navigator.hardwareConcurrency;
  r.crossOriginIsolated = self.crossOriginIsolated;
  r.totalSeconds = (performance.now() - t0) / 1000;
  row('build', `pkg/${r.build} (${runtimeLabel(r)}), wasm ${r.version}`);
  row('model', `${model}: ${r.model.preset}, 2×${r.model.hidden} units, K ${r.model.steps}`);
  for (const m of r.matmul) row(`matmul ${m.m}×${m.k} · ${m.k}×${m.n}`, m.skipped ? `skipped: ${m.skipped}` : `${m.gflops.toFixed(2)} GFLOP/s`);
  row('classify one digit', `${r.classifyMs.toFixed(1)} ms`);
  row('settle trace of one digit', `${r.settleMs.toFixed(1)} ms`);
  row('dream 100 digits', `${r.dream100Ms.toFixed(1)} ms`);
  row(
    `latent map of ${r.tsne.points} test images`,
    `PCA after ${r.tsne.firstMs.toFixed(0)} ms, t-SNE (${r.tsne.iterations} iterations) after ${r.tsne.seconds.toFixed(1)} s`,
  );
  row(`training (${r.model.preset} preset)`, `${r.trainSamplesPerSec.toFixed(0)} samples/s over ${r.trainBatches} batches`);
  $('#bench-json').textContent = JSON.stringify(r, null, 2);
  say(`done in ${r.totalSeconds.toFixed(0)} s`);
  window.benchResult = r;
  eng.terminate();
}

main().catch((e) => {
  say(`failed: ${e.message}`);
  window.benchResult = { error: e.message };
});
