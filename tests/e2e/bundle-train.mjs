// End to end: a small dataset of its own trains in its own bundled page, with the Train form's
// defaults, in both modes. This test
//   1. writes 3 classes of drawn shapes as IDX files (6,000 training images: 5,000 train and
//      1,000 dev, fewer than the 2,000 dev images the catalog asks for by default; 600 test),
//   2. shards them with `pff data --idx-dir` (the manifest calls an image an "item"), trains a
//      `tiny` model on them with the CLI and bundles it with `pff bundle`,
//   3. serves the bundle with Python's plain static server, and in Chromium
//      - isolated: the service worker makes the page cross-origin isolated (threaded build),
//      - single: service workers blocked, so the page is not isolated (single-thread build),
// checks that the form's bounds and defaults are the dataset's (clamped by the core), that
// "Start training" with those defaults trains and finishes, and that every text uses the class
// count and the dataset's noun (issue 27, items 1 and 9). In isolated mode it also trains two
// epochs with the Draw panel open and checks that Draw classifies again after epoch 1 (issue 23).
//
// bundle.mjs runs these after its own; alone (the last line is `N passed, M failed`):
//
//   cd tests/e2e && node bundle-train.mjs [--mode isolated|single]   (needs target/release/pff and pkg/)

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PFF, REPO, ROOT, Runner, assert, launch, tab, waitText, watch } from './lib.mjs';
import { plainServer, writeIdx } from './toyset.mjs';

const NAMES = ['bar', 'pole', 'ring'];
const TITLE = 'Three shapes';

function pff(cmd) {
  return execFileSync(PFF, ['--threads', '2', ...cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The texts of the page a visitor reads or hears: the visible text and every aria-label. */
const pageWords = (page) =>
  page.evaluate(() => {
    const labels = [...document.querySelectorAll('[aria-label]')].map((e) => e.getAttribute('aria-label'));
    return `${document.body.innerText}\n${labels.join('\n')}`;
  });

/**
 * The tests, as tests of `runner`, in `modes` (isolated, single).
 * @param {Runner} runner
 * @param {string[]} modes
 */
export async function bundleTrainingTests(runner, modes = ['isolated', 'single']) {
  for (const m of modes) if (!['isolated', 'single'].includes(m)) throw new Error(`mode ${m}: expected isolated or single`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pff-bundle-train-e2e-'));
  const data = path.join(tmp, 'data');
  const weights = path.join(tmp, 'three-tiny.safetensors');
  const site = path.join(tmp, 'site');
  let server = null;
  try {
    await runner.test('a 3-class dataset with 1,000 dev images, trained and bundled with the CLI', async () => {
      writeIdx(path.join(tmp, 'idx'), 6000, 600, NAMES.length);
      const made = pff(['--data-dir', data, 'data', '--idx-dir', path.join(tmp, 'idx'), '--name', 'three', '--classes', NAMES.join(','), '--title', TITLE]);
      assert(made.includes(`3 classes: ${NAMES.join(', ')}`), made);
      const manifest = JSON.parse(fs.readFileSync(path.join(data, 'three', 'manifest.json'), 'utf8'));
      assert(manifest.noun === 'item', `the manifest's noun is ${JSON.stringify(manifest.noun)}`);
      assert(manifest.splits.train.count === 5000 && manifest.splits.dev.count === 1000 && manifest.splits.test.count === 600, JSON.stringify(manifest.splits));
      pff(['--data-dir', data, 'train', '--preset', 'tiny', '--dataset', 'three', '--epochs', '1', '--out', weights]);
      const bundled = pff(['--data-dir', data, 'bundle', '--root', ROOT, '--out', site, '--default', weights, '--title', TITLE]);
      assert(bundled.includes('the page opens with three-tiny'), bundled);
      return bundled.split('\n')[0];
    });
    server = await plainServer(site);

    for (const mode of modes) {
      const isolated = mode === 'isolated';
      console.log(`\n# ${mode} mode`);
      const T = (name, fn) => runner.test(`[${mode}] ${name}`, fn);
      const browser = await launch({ viewport: { width: 1280, height: 720 }, serviceWorkers: isolated ? 'allow' : 'block' });
      try {
        const page = await browser.context.newPage();
        // Playwright blocks service workers by making `register()` resolve to undefined, which the
        // bundle's coi-serviceworker.js takes for "no service worker here": no error either way
        const seen = watch(page, server.url);

        await T(`the bundled page starts the ${isolated ? 'threaded' : 'single-thread'} build with the dataset's model`, async () => {
          await page.goto(server.url);
          await page.waitForFunction((iso) => (!iso || window.crossOriginIsolated) && window.pffBooted, isolated, { timeout: 90000 });
          const rt = await page.evaluate(() => window.pff.state.runtime);
          assert(isolated ? rt.mode === 'threads' : rt.mode === 'single' && rt.build === 'single', `runtime ${JSON.stringify(rt)}`);
          const st = await page.evaluate(() => window.pff.call('status', {}));
          assert(st.model && JSON.stringify(st.model.class_names) === JSON.stringify(NAMES), JSON.stringify(st.model));
          assert(st.model.noun.one === 'item' && st.dataset.noun.many === 'items', `nouns ${JSON.stringify([st.model.noun, st.dataset.noun])}`);
          return `${rt.build} build, ${rt.threads} thread(s)`;
        });

        await T('every text uses the class count and the dataset\'s noun ("item"), never "digit"', async () => {
          const ready = await page.textContent('#message');
          assert(ready.trim() === 'Ready: draw one item.', `status message "${ready}"`);
          await tab(page, 'draw');
          const hint = await page.textContent('#draw-hint');
          assert(hint.startsWith('The 3 label hypotheses settle together'), `Draw's hint "${hint}"`);
          assert((await page.textContent('#random-digit')).trim() === 'Random test item', await page.textContent('#random-digit'));
          await page.click('#random-digit');
          const source = await waitText(page, '#draw-source', /^Test item #\d+, labelled (bar|pole|ring)\./);
          await page.waitForFunction(() => document.querySelector('#prediction').dataset.state === 'guess', null, { timeout: 30000 });
          await tab(page, 'settle');
          await page.waitForFunction(() => /Winner: /.test(document.querySelector('#settle-note').textContent), null, { timeout: 30000 });
          const chips = await page.$$eval('#settle-hyp label', (ls) => ls.map((l) => l.textContent.trim()));
          assert(JSON.stringify(chips) === JSON.stringify(['winner', ...NAMES]), `Settle's hypotheses ${JSON.stringify(chips)}`);
          await tab(page, 'dream');
          await waitText(page, '#dream-note', /^Items sampled from a Gaussian mixture/, 60000);
          const legend = await page.$$eval('#latent-legend span', (ss) => ss.map((s) => s.textContent));
          assert(legend.length === 3, `the latent map's legend: ${legend}`);
          const found = [];
          for (const p of ['draw', 'settle', 'dream', 'train', 'data', 'weights']) {
            await tab(page, p);
            const words = await pageWords(page);
            for (const m of words.matchAll(/[^\n]*\b(digit|digits|ten)\b[^\n]*/gi)) found.push(`${p}: ${m[0].trim()}`);
            const labels = await page.$$eval('[data-noun]', (els) => els.map((e) => e.textContent));
            assert(labels.length > 5 && labels.every((w) => /^(item|items|Items)$/.test(w)), `noun spans ${labels}`);
          }
          assert(found.length === 0, `texts that do not fit the dataset:\n${found.join('\n')}`);
          return `"${source}"`;
        });

        await T("the Train form's bounds and defaults are the dataset's, clamped by the core", async () => {
          await tab(page, 'train');
          await page.waitForFunction(() => [...document.querySelectorAll('#train-dataset option')].some((o) => o.value === 'three'), null, { timeout: 30000 });
          const form = await page.evaluate(() =>
            Object.fromEntries(
              ['#train-size', '#train-dev'].map((s) => {
                const el = /** @type {HTMLInputElement} */ (document.querySelector(s));
                return [s, [el.value, el.min, el.max]];
              }),
            ),
          );
          assert(JSON.stringify(form['#train-size']) === JSON.stringify(['5000', '100', '5000']), `training images ${form['#train-size']}`);
          assert(JSON.stringify(form['#train-dev']) === JSON.stringify(['1000', '100', '1000']), `dev images ${form['#train-dev']}`);
          const offer = await page.evaluate(() => window.pff.call('offer', { name: 'three' }));
          assert(offer.bounds.dev_images.default === 1000 && offer.bounds.test_images.default === 600 && offer.noun.one === 'item', JSON.stringify(offer));
          return `training ${form['#train-size'].join('/')}, dev ${form['#train-dev'].join('/')} (value/min/max)`;
        });

        await T('"Start training" with the form\'s defaults trains an epoch and finishes, the focus on the run\'s controls', async () => {
          await page.evaluate(() => {
            /** @type {any} */ (window).epochsSeen = [];
            window.pff.on('progress', (ev) => ev.epoch_end && /** @type {any} */ (window).epochsSeen.push(ev.epoch_end.epoch));
          });
          await page.focus('#train-start');
          await page.keyboard.press('Enter');
          await page.waitForFunction(() => document.querySelector('#train-pause').disabled === false, null, { timeout: 30000 });
          const focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
          assert(focused === 'train-pause', `after Start training the focus is on ${focused || 'the body'}`);
          const note = await waitText(page, '#train-note', /^(Finished|Training failed)/, 240000);
          assert(/^Finished/.test(note), note);
          const epochs = await page.evaluate(() => /** @type {any} */ (window).epochsSeen);
          assert(epochs.includes(1), `epochs ended: ${epochs}`);
          const st = await page.evaluate(() => window.pff.call('status', {}));
          assert(/trained in this page/.test(st.model.name) && st.model.meta.dataset === 'three', JSON.stringify(st.model));
          const after = await page.evaluate(() => document.activeElement && document.activeElement.id);
          assert(after === 'train-start', `after the run the focus is on ${after || 'the body'}`);
          return note.slice(0, 140);
        });

        if (isolated) {
          await T('Draw classifies again when a training epoch ends (two epochs, Draw open)', async () => {
            await page.evaluate(() => {
              const app = window.pff;
              const w = /** @type {any} */ (window);
              w.drawLog = [];
              const call = app.call;
              app.call = (type, payload, transfer) => {
                if (type === 'classify') w.drawLog.push(['classify', performance.now()]);
                return call(type, payload, transfer);
              };
              app.on('progress', (ev) => ev.epoch_end && w.drawLog.push([`epoch ${ev.epoch_end.epoch}`, performance.now()]));
            });
            await tab(page, 'train');
            await page.fill('#train-epochs', '2');
            await page.click('#train-start');
            await tab(page, 'draw');
            const note = await waitText(page, '#train-note', /^(Finished|Training failed)/, 300000);
            assert(/^Finished/.test(note), note);
            const log = await page.evaluate(() => /** @type {any} */ (window).drawLog);
            const at = (name) => (log.find(([n]) => n === name) || [null, null])[1];
            const [one, two] = [at('epoch 1'), at('epoch 2')];
            assert(one !== null && two !== null, `epochs: ${JSON.stringify(log)}`);
            const between = log.filter(([n, t]) => n === 'classify' && t > one && t < two);
            assert(between.length > 0, `Draw did not classify between the ends of epochs 1 and 2: ${JSON.stringify(log)}`);
            return `${between.length} classification(s) between epoch 1 and epoch 2`;
          });
        }

        await T('no console error and no request outside the origin', async () => {
          assert(seen.errors.length === 0, seen.errors.join('\n'));
          assert(seen.offOrigin.length === 0, seen.offOrigin.join('\n'));
        });
      } finally {
        await browser.close();
      }
    }
  } catch (e) {
    runner.results.push({ name: 'bundle training setup', status: 'failed', error: e });
    console.log(`  ✘ bundle training setup: ${e.stack || e}`);
  } finally {
    if (server) server.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const runner = new Runner('pff bundle training e2e');
  const t0 = Date.now();
  await bundleTrainingTests(runner, args.includes('--mode') ? [args[args.indexOf('--mode') + 1]] : undefined);
  const c = runner.counts();
  console.log(`\n${((Date.now() - t0) / 1000).toFixed(0)} s`);
  console.log(`${c.passed} passed, ${c.failed} failed`);
  process.exit(c.failed ? 1 : 0);
}
