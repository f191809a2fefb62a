// The boundary: every object the core sends the page (the wasm package's answers, run in node
// with the single-thread build) has exactly the keys www/protocol.js declares for it, so that the
// page's hand-written mirror of the Rust structs cannot drift (a page reading `epochEnd` where
// the core sends `epoch_end`). No page, no mode; the worker's own objects (Status, ModelStatus)
// are checked in a page by boot.mjs.

import fs from 'node:fs';
import path from 'node:path';
import { REPO, ROOT, assert } from '../lib.mjs';
import { declaredTypes, keyProblems } from '../protocol-keys.mjs';

/** @param {{test: (name: string, fn: () => Promise<any>) => Promise<void>}} ctx */
export async function run({ test: T }) {
  const types = declaredTypes();
  /** Checks `obj` as type `name` (and records the check); `skip`: keys checked elsewhere. */
  const checked = [];
  const problems = [];
  const check = (name, obj, opts) => {
    checked.push(name);
    problems.push(...keyProblems(types, name, obj, opts));
  };
  const verdict = () => {
    const found = [...new Set(problems.splice(0))];
    const names = [...new Set(checked.splice(0))];
    assert(found.length === 0, found.join('\n'));
    return names.join(', ');
  };
  const pkg = path.join(REPO, 'pkg', 'single');
  const wasm = await import(path.join(pkg, 'pff.js'));
  await wasm.default({ module_or_path: fs.readFileSync(path.join(pkg, 'pff_bg.wasm')) });
  const read = (...p) => fs.readFileSync(path.join(ROOT, 'data', ...p));

  await T('boundary: the catalog, its presets, bounds, image shape and models have the keys protocol.js declares', async () => {
    const cat = wasm.catalog();
    check('Catalog', cat);
    check('ImageShape', cat.image);
    for (const k of ['train_images', 'dev_images', 'test_images', 'epochs', 'seed', 'steps']) check('Bounds', cat[k]);
    check('RealBounds', cat.lr);
    for (const p of cat.presets) {
      check('PresetInfo', p);
      check('Config', p.config);
    }
    for (const m of cat.models) check('ShippedModel', m);
    return verdict();
  });

  const store = new wasm.DatasetStore();
  await T("boundary: a dataset's offer, bounds, noun and images have the keys protocol.js declares", async () => {
    const manifest = read('mnist', 'manifest.json');
    store.setManifest('mnist', manifest);
    const offer = store.offer();
    check('DatasetOffer', offer);
    check('RunBounds', offer.bounds);
    for (const b of Object.values(offer.bounds)) check('Bounds', b);
    check('Noun', offer.noun);
    check('Noun', store.noun());
    for (const [split, want] of [
      ['test', 1],
      ['train', 1],
      ['dev', 1],
    ]) {
      for (let f = store.nextShard(split, want); f; f = store.nextShard(split, want)) store.addShard(split, f, read('mnist', f));
    }
    check('ImageBatch', store.images('test', 0, 2));
    return verdict();
  });

  await T("boundary: a model's info and every answer (classify, settle, dream, maps, evaluation) have the keys protocol.js declares", async () => {
    const model = wasm.Model.fromWeights(read('weights', 'mnist-web.safetensors'), undefined, 'weights/mnist-web.safetensors');
    try {
      const info = model.info();
      // class_names and noun are the worker's additions (boot.mjs checks them in a page)
      check('ModelStatus', info, { skip: ['class_names', 'noun'] });
      assert(info.name === 'mnist-web.safetensors', `a model fetched from a URL is named by the core after its file: ${JSON.stringify(info.name)}`);
      check('Config', info.config);
      check('ModelMeta', info.meta);
      if (info.prior) check('PriorInfo', info.prior);
      const pixels = Float32Array.from(store.images('test', 0, 1).pixels, (v) => v / 255);
      check('Classification', model.classify(pixels));
      check('SettleTrace', model.settle(pixels, -1));
      check('Dream', model.dream(4, -1, 1));
      check('Dream', model.interpolate(4, 1));
      check('LatentMap', model.latentMap(store, 'test', 0, 20));
      const map = model.tsneMap(store, 'test', 0, 20, 1);
      check('LatentMap', map.start());
      check('MapProgress', map.step(5));
      map.free();
      check('Evaluation', model.evaluate(store, 'test', 20));
    } finally {
      model.free();
    }
    return verdict();
  });

  await T('the core says which images a run reads (RunRequest::reads), within the bounds of the dataset', async () => {
    const request = { preset: 'tiny', dataset: 'mnist', train_limit: 200, dev_limit: 150, test_limit: 120 };
    const reads = store.runReads(request);
    assert(JSON.stringify(reads) === JSON.stringify({ dev: 150, test: 120, train: 200 }), JSON.stringify(reads));
    const clamped = store.runReads({ ...request, no_test: true, train_limit: 10 ** 9, dev_limit: 5 });
    assert(JSON.stringify(clamped) === JSON.stringify({ dev: 100, train: 50000 }), `no test images, the limits within the bounds: ${JSON.stringify(clamped)}`);
    return `${JSON.stringify(reads)}; ${JSON.stringify(clamped)}`;
  });

  await T("boundary: a training run's progress, batches, epoch records, test result and history have the keys protocol.js declares", async () => {
    const run = new wasm.Run({ preset: 'tiny', dataset: 'mnist', seed: 1, epochs: 1, train_limit: 200, dev_limit: 50, test_limit: 20, no_prior: true }, store);
    const seen = new Set();
    try {
      while (!run.isDone()) {
        const p = run.step(store); // as the worker drives a run: paced by the core
        check('Progress', p);
        seen.add(p.phase);
        for (const b of p.batches) check('BatchStats', b);
        if (p.epoch_end) check('EpochRecord', p.epoch_end);
        if (p.test) check('TestResult', p.test);
      }
      for (const r of run.history()) check('EpochRecord', r);
      // the core names the run's models (the worker only passes the names on)
      const names = [run.currentModel(), run.bestModel()].map((m) => {
        const { name, meta } = m.info();
        m.free();
        return `${name} | ${meta.epochs}`;
      });
      const best = /^trained in this page \(best: epoch (\d+)\) \| (\d+)$/.exec(names[1]);
      assert(names[0] === 'training in this page, epoch 1 | 1' && best && best[1] === best[2], JSON.stringify(names));
    } finally {
      run.free();
    }
    assert(seen.has('training') && seen.has('testing'), `phases seen: ${[...seen]}`);
    return verdict();
  });
  store.free();
}
