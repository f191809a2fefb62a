// The benchmark page: one module Worker per contestant, all alive for the whole run, asked in
// turn (never two at once) shape by shape, so every ratio comes from figures measured minutes
// apart at most on the same machine, browser and load. Sets window.benchResult when done.
//
// Contestants:
//   tfjs-wasm-<binary>       tf.matMul with setBackend('wasm') (threaded-simd when isolated)
//   tfjs-wasm-<binary>-fresh-b   the same with a new B tensor each rep (B-packing included)
//   tfjs-wasm-<binary>-threads-<N>   tfjs with N = hardwareConcurrency threads (its own default
//                            caps the pool at hardwareConcurrency/2; see worker-tfjs.mjs)
//   ours-threads-<N>         /pkg/threads/pff.js, initThreadPool(navigator.hardwareConcurrency)
//   ours-threads-1           /pkg/threads/pff.js, initThreadPool(1)
//   ours-single              /pkg/single/pff.js, no pool
//   ours-*-js-timed          (with ?jsTimed=1) pff's matmul() export timed here with
//                            performance.now(), input copies included: a check on benchMatmul,
//                            which times with Date.now() (whole milliseconds)
// Each figure: GFLOP/s of the best of `reps` timed products after one warm-up.

const params = new URLSearchParams(location.search);
const SHAPES = (params.get('shapes') || '1000x784x500,1000x500x500,512x784x2000,1000x2000x2000')
  .split(',')
  .map((s) => s.trim().split('x').map(Number))
  .map(([m, k, n]) => ({ m, k, n }));
const REPS = Number(params.get('reps') || 5);
const BUDGET_MS = Number(params.get('budget') || 3000); // skip a shape whose one rep would exceed this
const ROUNDS = Number(params.get('rounds') || 3); // best over rounds of best-of-REPS
const MAX_SECONDS = Number(params.get('maxSeconds') || 110); // no new round after this
const FRESH_B = params.get('freshB') !== '0';
const TFJS_THREADS = Number(params.get('tfjsThreads') || 0); // 0 = tfjs's default
const TFJS_SPOOF = params.get('tfjsSpoof') !== '0'; // also run tfjs with hardwareConcurrency threads
const JS_TIMED = params.get('jsTimed') === '1'; // also time ours's matmul() export with performance.now()
const CALL_TIMEOUT_MS = Number(params.get('callTimeout') || 90000);
const HC = navigator.hardwareConcurrency || 1;

const logEl = document.getElementById('log');
function log(line) {
  console.log(`[bench] ${line}`);
  logEl.textContent += `${line}\n`;
}

function spawn(url) {
  const worker = new Worker(url, { type: 'module' });
  const pending = new Map();
  let next = 1;
  let dead = null;
  const failAll = (err) => {
    dead = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.onmessage = ({ data }) => {
    const p = pending.get(data.id);
    if (!p) return;
    pending.delete(data.id);
    if (data.ok) p.resolve(data.result);
    else p.reject(new Error(data.error));
  };
  worker.onerror = (e) => {
    e.preventDefault?.();
    failAll(new Error(`worker ${url}: ${e.message || 'failed to load'}`));
  };
  return {
    call(msg, timeoutMs = CALL_TIMEOUT_MS) {
      if (dead) return Promise.reject(dead);
      const id = next++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          worker.terminate();
          failAll(new Error(`worker ${url}: ${msg.cmd} timed out after ${timeoutMs} ms`));
          reject(new Error(`${msg.cmd} timed out after ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, {
          resolve: (v) => (clearTimeout(timer), resolve(v)),
          reject: (e) => (clearTimeout(timer), reject(e)),
        });
        worker.postMessage({ ...msg, id });
      });
    },
    terminate: () => worker.terminate(),
  };
}

const VARIANT = {
  'tfjs-backend-wasm-threaded-simd.wasm': 'threaded-simd',
  'tfjs-backend-wasm-simd.wasm': 'simd',
  'tfjs-backend-wasm.wasm': 'plain',
};

async function main() {
  const t0 = performance.now();
  const env = {
    userAgent: navigator.userAgent,
    crossOriginIsolated: self.crossOriginIsolated,
    hardwareConcurrency: HC,
  };
  log(`crossOriginIsolated=${env.crossOriginIsolated} hardwareConcurrency=${HC}`);

  const contestants = [];
  const info = {};
  const errors = {};

  // tfjs as it configures itself: one worker serves both the cached-B and the fresh-B figures
  let tfjsBase = null;
  {
    const w = spawn('./worker-tfjs.mjs');
    try {
      const i = await w.call({ cmd: 'init', threads: TFJS_THREADS });
      tfjsBase = `tfjs-wasm-${VARIANT[i.binary] || i.binary}`;
      info[tfjsBase] = i;
      log(`${tfjsBase}: tfjs ${i.tfjsVersion} backend=${i.backend} binary=${i.binary} threads=${i.threads} simd=${i.simd} multithread=${i.multithread}`);
      contestants.push({ key: tfjsBase, worker: w, run: { freshB: false }, role: 'tfjs' });
      if (FRESH_B) contestants.push({ key: `${tfjsBase}-fresh-b`, worker: w, run: { freshB: true }, role: 'tfjs-fresh-b' });
      // tfjs caps its pool at hardwareConcurrency/2: a second worker, told there are twice as many
      // cores, runs it with as many threads as ours gets
      if (TFJS_SPOOF && i.threadedSimd && i.threads < HC) {
        const w2 = spawn('./worker-tfjs.mjs');
        try {
          const i2 = await w2.call({ cmd: 'init', threads: HC, spoofCores: 2 * HC });
          const key = `${tfjsBase}-threads-${i2.threads}`;
          info[key] = i2;
          log(`${key}: hardwareConcurrency spoofed to ${2 * HC}, threads=${i2.threads}`);
          if (i2.threads > i.threads) contestants.push({ key, worker: w2, run: { freshB: false }, role: 'tfjs-threads-n' });
          else w2.terminate();
        } catch (e) {
          errors[`${tfjsBase}-threads-${HC}`] = String(e.message || e);
          log(`tfjs with ${HC} threads: ${e.message || e}`);
          w2.terminate();
        }
      }
    } catch (e) {
      errors.tfjs = String(e.message || e).split('\n')[0];
      log(`tfjs: ${errors.tfjs}`);
      w.terminate();
    }
  }
  const oursAll = [
    { key: `ours-relaxed-${HC}`, role: 'ours-relaxed', init: { build: 'relaxed', threads: HC } },
    { key: 'ours-relaxed-1', role: 'ours-relaxed-1', init: { build: 'relaxed', threads: 1 } },
    { key: `ours-threads-${HC}`, role: 'ours-threads', init: { build: 'threads', threads: HC } },
    { key: 'ours-threads-1', role: 'ours-threads-1', init: { build: 'threads', threads: 1 } },
    { key: 'ours-single', role: 'ours-single', init: { build: 'single' } },
  ];
  // with one core the N-thread contestants are the 1-thread ones
  const ours = HC === 1 ? oursAll.filter((o) => o.role !== 'ours-relaxed' && o.role !== 'ours-threads') : oursAll;
  for (const o of ours) {
    const w = spawn('./worker-ours.mjs');
    try {
      const i = await w.call({ cmd: 'init', ...o.init });
      info[o.key] = i;
      log(`${o.key}: pff ${i.version} threadedBuild=${i.threadedBuild} threadCount=${i.threadCount}`);
      contestants.push({ key: o.key, worker: w, run: {}, role: o.role });
      if (JS_TIMED) contestants.push({ key: `${o.key}-js-timed`, worker: w, run: { jsTimed: true }, role: `${o.role}-js-timed` });
    } catch (e) {
      errors[o.key] = String(e.message || e).split('\n')[0];
      log(`${o.key}: ${errors[o.key]}`);
      w.terminate();
    }
  }

  // rounds outermost, so the best-of-rounds figures are spread over the whole run and a burst of
  // load from elsewhere hurts one round, not one contestant; contestant order rotates per round
  const shapes = SHAPES.map(({ m, k, n }) => ({
    shape: `${m}x${k}x${n}`, m, k, n, gflop: (2 * m * k * n) / 1e9, gflops: {}, bestMs: {}, perRound: {}, skipped: {},
  }));
  let roundsDone = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const elapsed = (performance.now() - t0) / 1000;
    if (round > 0 && MAX_SECONDS > 0 && elapsed > MAX_SECONDS) {
      log(`round ${round + 1}: not started, ${elapsed.toFixed(0)} s > ${MAX_SECONDS} s`);
      break;
    }
    const order = contestants.slice(round % contestants.length).concat(contestants.slice(0, round % contestants.length));
    for (let idx = 0; idx < shapes.length; idx++) {
      const row = shapes[idx];
      const { m, k, n } = row;
      const flop = 2 * m * k * n;
      for (const c of order) {
        if (row.skipped[c.key]) continue;
        // time-box: estimate one rep from this shape's earlier rounds, else from the previous shape
        const rate = row.gflops[c.key] || (idx > 0 ? shapes[idx - 1].gflops[c.key] : 0);
        const estMs = rate ? flop / (rate * 1e6) : 0;
        if (BUDGET_MS > 0 && estMs > BUDGET_MS) {
          row.skipped[c.key] = `one rep estimated at ${estMs.toFixed(0)} ms > budget ${BUDGET_MS} ms`;
          log(`${row.shape} ${c.key}: skipped (${row.skipped[c.key]})`);
          continue;
        }
        try {
          const r = await c.worker.call({ cmd: 'run', m, k, n, reps: REPS, budgetMs: BUDGET_MS, ...c.run });
          if (r.gflops == null) {
            row.skipped[c.key] = r.skipped;
            log(`${row.shape} ${c.key}: skipped (${r.skipped})`);
            continue;
          }
          (row.perRound[c.key] ||= []).push(r.gflops);
          if (!(row.gflops[c.key] >= r.gflops)) {
            row.gflops[c.key] = r.gflops;
            row.bestMs[c.key] = r.bestMs;
          }
          log(`round ${round + 1} ${row.shape} ${c.key}: ${r.gflops.toFixed(2)} GFLOP/s (best ${r.bestMs.toFixed(1)} ms)`);
        } catch (e) {
          row.skipped[c.key] = `error: ${e.message || e}`;
          log(`${row.shape} ${c.key}: ${row.skipped[c.key]}`);
        }
      }
    }
    roundsDone = round + 1;
  }

  const keyOf = (role) => (contestants.find((c) => c.role === role) || {}).key;
  const ratioDefs = [];
  const pair = (a, b) => a && b && ratioDefs.push([`${a}/${b}`, a, b]);
  const [tfjs, tfjsFresh, tfjsN] = ['tfjs', 'tfjs-fresh-b', 'tfjs-threads-n'].map(keyOf);
  const [oursN, ours1, oursSingle] = ['ours-threads', 'ours-threads-1', 'ours-single'].map(keyOf);
  const [relaxedN, relaxed1] = ['ours-relaxed', 'ours-relaxed-1'].map(keyOf);
  for (const o of [relaxedN, relaxed1, oursN, ours1, oursSingle]) pair(o, tfjs);
  for (const o of [relaxedN, relaxed1, oursN, ours1, oursSingle]) pair(o, tfjsFresh);
  pair(relaxedN, tfjsN);
  pair(relaxedN, oursN);
  pair(relaxed1, ours1);
  pair(oursN, tfjsN);
  pair(oursN, ours1);
  pair(ours1, oursSingle);
  pair(tfjsN, tfjs);
  pair(tfjs, tfjsFresh);
  if (JS_TIMED) for (const o of [relaxedN, relaxed1, oursN, ours1, oursSingle]) pair(`${o}-js-timed`, o);
  const geo = {};
  for (const row of shapes) {
    row.ratios = {};
    for (const [name, a, b] of ratioDefs) {
      if (row.gflops[a] && row.gflops[b]) {
        row.ratios[name] = row.gflops[a] / row.gflops[b];
        (geo[name] ||= []).push(row.ratios[name]);
      }
    }
  }
  const geomeanRatios = Object.fromEntries(
    Object.entries(geo).map(([name, v]) => [name, Math.exp(v.reduce((s, x) => s + Math.log(x), 0) / v.length)]),
  );

  for (const c of new Set(contestants.map((c) => c.worker))) c.terminate();
  return {
    env,
    settings: { reps: REPS, warmup: 1, rounds: ROUNDS, roundsDone, maxSeconds: MAX_SECONDS, budgetMs: BUDGET_MS, freshB: FRESH_B, tfjsThreads: TFJS_THREADS || 'default', tfjsSpoof: TFJS_SPOOF, jsTimed: JS_TIMED },
    contestants: contestants.map((c) => c.key),
    info,
    errors,
    shapes,
    geomeanRatios,
    pageSeconds: (performance.now() - t0) / 1000,
  };
}

main().then(
  (r) => {
    window.benchResult = r;
    log('done');
  },
  (e) => {
    window.benchResult = { error: String(e && e.stack ? e.stack : e) };
    log(`error: ${window.benchResult.error}`);
  },
);
