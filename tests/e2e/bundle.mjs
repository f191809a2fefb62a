// End to end: a researcher shares their own model. This test
//   1. writes a small dataset of its own as IDX files (4 classes of drawn shapes, with names),
//   2. shards it with `pff data --idx-dir … --classes … --title …`,
//   3. trains a `tiny` model on it with `pff train --dataset …`,
//   4. bundles that model with `pff bundle --default … --title …`,
//   5. serves the bundle with Python's plain static server (no special headers at all),
// and checks in Chromium that the page becomes cross-origin isolated after the service worker's
// reload, opens that model, shows the custom class names, and classifies its test images; that a
// second visit downloads nothing; and that with the server stopped and the browser offline the
// page reloads from its cache and still classifies. Then bundle-train.mjs: a 3-class set with
// fewer dev images than the catalog's default trains in its own bundled page with the form's
// defaults, in both modes.
//
//   cd tests/e2e && node bundle.mjs        (needs target/release/pff and pkg/ built)
//
// The last line is `N passed, M failed`; the exit code is non-zero on any failure.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleTrainingTests } from './bundle-train.mjs';
import { PFF, REPO, Runner, assert, launch, watch } from './lib.mjs';
import { plainServer, writeIdx } from './toyset.mjs';

const NAMES = ['bar', 'pole', 'ring', 'cross'];
const TITLE = 'Four shapes';
const runner = new Runner('pff bundle e2e');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pff-bundle-e2e-'));

/** `pff ARGS`, run as a researcher would in a folder of their own, outside the repository. */
function pff(args) {
  return execFileSync(PFF, ['--threads', '2', ...args], { cwd: tmp, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const data = path.join(tmp, 'data');
const weights = path.join(tmp, 'shapes-tiny.safetensors');
const site = path.join(tmp, 'site');
let server = null;
let browser = null;
const t0 = Date.now();
try {
  await runner.test('a dataset of its own, trained and bundled with the CLI from a folder outside the repository', async () => {
    writeIdx(path.join(tmp, 'idx'), 2400, 400, NAMES.length);
    // the README's commands as written, in the researcher's own folder: ./data, no --root
    const made = pff(['data', '--idx-dir', 'idx', '--name', 'shapes', '--classes', NAMES.join(','), '--title', TITLE, '--noun', 'shape']);
    assert(made.includes(`4 classes: ${NAMES.join(', ')}`) && fs.existsSync(path.join(data, 'shapes', 'manifest.json')), made);
    const trained = pff(['train', '--preset', 'tiny', '--dataset', 'shapes', '--epochs', '1', '--out', path.basename(weights)]);
    const acc = /test accuracy ([\d.]+) %/.exec(trained) || /test: .*?([\d.]+) %/.exec(trained);
    const bundled = pff(['bundle', '--out', 'site', '--default', path.basename(weights), '--title', TITLE]);
    assert(bundled.includes('the page opens with shapes-tiny') && bundled.includes('size: page'), bundled);
    const siteFile = JSON.parse(fs.readFileSync(path.join(site, 'site.json'), 'utf8'));
    assert(siteFile.models[0].name === 'shapes-tiny' && siteFile.datasets.join() === 'shapes', JSON.stringify(siteFile));
    return `${bundled.split('\n')[0]}${acc ? `; CLI test accuracy ${acc[1]} %` : ''}`;
  });

  server = await plainServer(site);
  browser = await launch();
  const page = await browser.context.newPage();
  const seen = watch(page, server.url);
  const failedRequests = [];
  page.on('requestfailed', (r) => failedRequests.push(`${r.url()} (${r.failure() && r.failure().errorText})`));

  await runner.test('served by a plain static host, the page is cross-origin isolated after the service worker reloads it', async () => {
    const noHeaders = await fetch(server.url);
    assert(!noHeaders.headers.get('cross-origin-opener-policy'), 'the static server sends COOP itself');
    await page.goto(server.url);
    await page.waitForFunction(() => window.crossOriginIsolated && window.pffBooted, null, { timeout: 90000 });
    const rt = await page.evaluate(() => window.pff.state.runtime);
    assert(rt.mode === 'threads' && rt.threads > 1, `runtime ${JSON.stringify(rt)}`);
    return `${rt.threads} threads`;
  });

  await runner.test('the page opens the bundled model and names its classes and its title', async () => {
    const st = await page.evaluate(() => window.pff.call('status', {}));
    assert(st.model && JSON.stringify(st.model.class_names) === JSON.stringify(NAMES), `model ${JSON.stringify(st.model)}`);
    assert(st.dataset && st.dataset.name === 'shapes' && st.dataset.title === TITLE, `dataset ${JSON.stringify(st.dataset)}`);
    // the noun given to `pff data --noun` names one image in the page's words
    assert(st.dataset.noun && st.dataset.noun.one === 'shape', `noun ${JSON.stringify(st.dataset.noun)}`);
    assert(/draw one shape/.test(await page.textContent('[data-testid="status"]')), await page.textContent('[data-testid="status"]'));
    const title = await page.title();
    assert(title.startsWith(TITLE), `title "${title}"`);
    const bars = await page.$$eval('#probs li .d', (els) => els.map((e) => e.textContent));
    assert(JSON.stringify(bars) === JSON.stringify(NAMES), `Draw's bars: ${bars}`);
    const prompt = await page.textContent('#panel-draw');
    assert(prompt.includes(`Draw one of: ${NAMES.join(', ')}`), 'the prompt does not name the shapes');
    assert(!(await page.isHidden('#tab-train')), 'the Train tab is hidden, but the bundle offers training');
  });

  await runner.test('a test image is classified with a class name, and the model reads its test split', async () => {
    await page.click('#random-digit');
    await page.waitForFunction(() => document.querySelector('#prediction').dataset.state === 'guess', null, { timeout: 30000 });
    const verdict = (await page.textContent('#prediction')).trim();
    assert(NAMES.includes(verdict), `verdict "${verdict}"`);
    const ev = await page.evaluate(() => window.pff.call('evaluate', { split: 'test', limit: 400 }));
    assert(ev.n === 400 && ev.accuracy > 0.9, `test accuracy ${ev.accuracy} on ${ev.n}`);
    return `verdict "${verdict}", accuracy ${(100 * ev.accuracy).toFixed(1)} % on ${ev.n} test images`;
  });

  await runner.test('it settles and dreams in the custom classes', async () => {
    const r = await page.evaluate(async () => {
      const img = await window.pff.call('images', { split: 'test', start: 2, count: 1 });
      const trace = await window.pff.call('settle', { pixels: Float32Array.from(img.pixels, (v) => v / 255), label: -1 });
      const dream = await window.pff.call('dream', { n: 8, component: -1, seed: 3 });
      return { label: img.labels[0], classes: trace.classes, winner: trace.winner, steps: trace.steps, n: dream.n, pixels: dream.images.length };
    });
    assert(r.classes === 4 && r.steps > 0 && r.winner >= 0 && r.winner < 4, JSON.stringify(r));
    assert(r.n === 8 && r.pixels === 8 * 784, JSON.stringify(r));
    await page.click('#tab-settle');
    await page.waitForFunction(() => /Winner: (bar|pole|ring|cross)/.test(document.querySelector('#settle-note').textContent), null, { timeout: 30000 });
    await page.click('#tab-draw');
    return `settled in ${r.steps} steps on a "${NAMES[r.label]}": winner "${NAMES[r.winner]}"`;
  });

  await runner.test('after the first visit the site is cached: a second visit downloads nothing but the worker check', async () => {
    const done = await page.waitForFunction(() => window.pffOffline, null, { timeout: 120000 }).then((h) => h.jsonValue());
    assert(done.files > 10, `offline cache: ${JSON.stringify(done)}`);
    const before = server.log.length;
    await page.reload();
    await page.waitForFunction(() => window.crossOriginIsolated && window.pffBooted, null, { timeout: 90000 });
    await page.click('#random-digit');
    await page.waitForFunction(() => document.querySelector('#prediction').dataset.state === 'guess', null, { timeout: 30000 });
    const fetched = server.log.slice(before).filter((l) => !/coi-serviceworker\.js/.test(l));
    assert(fetched.length === 0, `downloaded again:\n${fetched.join('\n')}`);
    return `${done.files} files cached; second visit: ${server.log.length - before} request(s), all for the worker script`;
  });

  await runner.test('with the network gone, the page reloads, opens the model and classifies', async () => {
    server.stop();
    await browser.context.setOffline(true);
    await page.reload();
    await page.waitForFunction(() => window.crossOriginIsolated && window.pffBooted, null, { timeout: 90000 });
    const st = await page.evaluate(() => window.pff.call('status', {}));
    assert(st.model && JSON.stringify(st.model.class_names) === JSON.stringify(NAMES), `model ${JSON.stringify(st.model)}`);
    await page.click('#random-digit');
    await page.waitForFunction(() => document.querySelector('#prediction').dataset.state === 'guess', null, { timeout: 30000 });
    const verdict = (await page.textContent('#prediction')).trim();
    assert(NAMES.includes(verdict), `verdict "${verdict}"`);
    const rt = await page.evaluate(() => window.pff.state.runtime);
    return `offline: ${rt.threads} threads, verdict "${verdict}"`;
  });

  await runner.test('no console error and no request outside the origin', async () => {
    assert(seen.errors.length === 0, `${seen.errors.join('\n')}\nfailed requests: ${failedRequests.join(', ')}`);
    assert(seen.offOrigin.length === 0, seen.offOrigin.join('\n'));
  });
} catch (e) {
  runner.results.push({ name: 'setup', status: 'failed', error: e });
  console.log(`  ✘ setup: ${e.stack || e}`);
} finally {
  if (browser) await browser.close();
  if (server) server.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log('\n# a small dataset trained in its own bundled page');
await bundleTrainingTests(runner);
const c = runner.counts();
console.log(`\n${((Date.now() - t0) / 1000).toFixed(0)} s`);
console.log(`${c.passed} passed, ${c.failed} failed`);
process.exit(c.failed ? 1 : 0);
