// A smoke subset of the end-to-end tests in a second engine: Debian's headless Firefox ESR,
// driven through WebDriver (selenium-webdriver and geckodriver, pinned in scripts/setup.sh), in
// three modes, served by `pff serve`: isolated (the relaxed-SIMD build), isolated with relaxed
// SIMD switched off in the browser (pref javascript.options.wasm_relaxed_simd: the page must
// fall back to the plain threaded build), and single (no isolation):
//   load (build and thread mode), classify a drawn digit, train a few seeded batches (the same
//   bits in the threaded and single builds, which share kernels), load a weights file through
//   the file input, and no console errors or requests to other origins (WebDriver BiDi log and
//   network events).
//
//   cd tests/e2e && node firefox.mjs              (all three modes)
//   node firefox.mjs --mode isolated | no-relaxed | single
//
// PFF_FIREFOX and PFF_GECKODRIVER override the browser and driver paths. The last line is
// `N passed, M failed`; the exit code is non-zero on any failure.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Builder, By, Origin } from 'selenium-webdriver';
import firefox from 'selenium-webdriver/firefox.js';
import bidiConnection from 'selenium-webdriver/lib/bidi_connection.js';
import { ONE, REPO, Runner, TWO, assert, seededTrainingInPage, startServer } from './lib.mjs';

const { getBidiConnection } = bidiConnection;

const FIREFOX = process.env.PFF_FIREFOX || '/usr/bin/firefox-esr';
const GECKODRIVER = process.env.PFF_GECKODRIVER || path.join(os.homedir(), '.cargo', 'bin', 'geckodriver');
const args = process.argv.slice(2);
const onlyMode = args.includes('--mode') ? args[args.indexOf('--mode') + 1] : null;
const ALL_MODES = ['isolated', 'no-relaxed', 'single'];
const MODES = onlyMode ? [onlyMode] : ALL_MODES;
for (const m of MODES) if (!ALL_MODES.includes(m)) throw new Error(`--mode ${m}: expected one of ${ALL_MODES.join(', ')}`);
const PRETRAINED = path.join(REPO, 'data', 'weights', 'mnist-web.safetensors');
const FASHION = path.join(REPO, 'data', 'weights', 'fashion-web.safetensors');
for (const f of [FIREFOX, GECKODRIVER, PRETRAINED, FASHION])
  if (!fs.existsSync(f)) throw new Error(`${f} is missing (scripts/setup.sh --test installs the browser and driver)`);

const runner = new Runner('pff e2e (Firefox)');
const trainedHashes = {}; // tensors' sha256 after the seeded batches, by build

async function startFirefox({ relaxedSimd = true } = {}) {
  const options = new firefox.Options().setBinary(FIREFOX).addArguments('-headless').enableBidi();
  if (!relaxedSimd) options.setPreference('javascript.options.wasm_relaxed_simd', false);
  const service = new firefox.ServiceBuilder(GECKODRIVER);
  const driver = await new Builder().forBrowser('firefox').setFirefoxOptions(options).setFirefoxService(service).build();
  await driver.manage().setTimeouts({ script: 300000, pageLoad: 60000 });
  await driver.manage().window().setRect({ width: 1280, height: 900 });
  return driver;
}

/** Collects console errors, uncaught exceptions and requests that leave `base`'s origin, from
 * the WebDriver BiDi events `log.entryAdded` and `network.beforeRequestSent` (read off the socket:
 * selenium's typed inspectors mistake one event kind for another). */
async function watch(driver, base) {
  const origin = new URL(base).origin;
  const seen = { errors: [], offOrigin: [], requests: 0 };
  const bidi = await getBidiConnection(driver);
  await bidi.subscribe(['log.entryAdded', 'network.beforeRequestSent']);
  (await bidi.socket).on('message', (data) => {
    const { method, params } = JSON.parse(data.toString());
    if (method === 'log.entryAdded' && params.level === 'error') seen.errors.push(`${params.type}: ${params.text}`);
    if (method === 'network.beforeRequestSent') {
      const u = params.request.url;
      seen.requests += 1;
      if (!u.startsWith('data:') && !u.startsWith('blob:') && new URL(u).origin !== origin) seen.offOrigin.push(u);
    }
  });
  return seen;
}

/** Runs `window.pff.call(type, payload)` in the page and returns its (JSON-able) result. */
const call = (driver, type, payload = {}) => driver.executeScript('return window.pff.call(arguments[0], arguments[1])', type, payload);

async function waitFor(driver, script, what, timeout = 30000) {
  const t0 = Date.now();
  for (;;) {
    const v = await driver.executeScript(script);
    if (v) return v;
    if (Date.now() - t0 > timeout) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const prediction = (driver) => driver.executeScript('return document.querySelector(\'[data-testid="prediction"]\').textContent');

async function drawStroke(driver, points) {
  const canvas = await driver.findElement(By.css('[data-testid="draw-canvas"]'));
  const box = await canvas.getRect();
  const at = ([x, y]) => ({ x: Math.round(box.x + x * box.width), y: Math.round(box.y + y * box.height), origin: Origin.VIEWPORT });
  let actions = driver.actions({ async: true }).move(at(points[0])).press();
  for (let i = 1; i < points.length; i++) {
    const [a, b] = [points[i - 1], points[i]];
    for (let s = 1; s <= 4; s++) actions = actions.move(at([a[0] + ((b[0] - a[0]) * s) / 4, a[1] + ((b[1] - a[1]) * s) / 4]));
  }
  await actions.release().perform();
}

async function clearDrawing(driver) {
  await driver.findElement(By.css('[data-testid="clear"]')).click();
  await waitFor(driver, 'return document.querySelector(\'[data-testid="prediction"]\').textContent === ""', 'a neutral Draw panel');
}

async function tab(driver, name) {
  await driver.findElement(By.id(`tab-${name}`)).click();
  await waitFor(driver, `return !document.querySelector('#panel-${name}').hidden`, `the ${name} panel`);
}

async function runMode(mode) {
  const isolation = mode !== 'single';
  console.log(`\n# Firefox, ${mode} mode`);
  const server = await startServer({ isolation });
  const driver = await startFirefox({ relaxedSimd: mode !== 'no-relaxed' });
  const T = (name, fn) => runner.test(`[firefox ${mode}] ${name}`, fn);
  try {
    const seen = await watch(driver, server.url);
    const version = (await driver.getCapabilities()).get('browserVersion');
    console.log(`  Firefox ${version}, server: ${server.kind} at ${server.url}`);
    await driver.get(server.url);

    await T('the page boots and reports the thread mode', async () => {
      await driver.executeScript('return window.pffBooted');
      // the error watch must see what it is there to see: a probe, then forgotten
      await driver.executeScript('console.error("pff-e2e-probe")');
      const t0 = Date.now();
      while (!seen.errors.some((e) => /pff-e2e-probe/.test(e)) && Date.now() - t0 < 10000) await new Promise((r) => setTimeout(r, 50));
      assert(
        seen.errors.some((e) => /pff-e2e-probe/.test(e)),
        'the console watch did not see a console.error',
      );
      seen.errors = seen.errors.filter((e) => !/pff-e2e-probe/.test(e));
      const rt = await driver.executeScript('return window.pff.state.runtime');
      const cores = await driver.executeScript('return navigator.hardwareConcurrency');
      const isolated = await driver.executeScript('return window.crossOriginIsolated');
      const badge = (await driver.findElement(By.css('[data-testid="threads"]')).getText()).trim();
      if (isolation) {
        assert(isolated, 'page not cross-origin isolated');
        assert(rt.mode === 'threads' && rt.threads === cores, `mode ${rt.mode} with ${rt.threads} threads (${rt.reason}), ${cores} cores`);
        if (mode === 'isolated') {
          assert(rt.build === 'relaxed' && rt.simd === 'relaxed-simd', `build ${rt.build} (${rt.reason})`);
          assert(badge === `${cores} threads · relaxed SIMD`, `badge "${badge}"`);
        } else {
          assert(rt.build === 'threads' && rt.simd === 'simd128' && /no relaxed SIMD in this browser/.test(rt.reason), `build ${rt.build} (${rt.reason})`);
          assert(badge === `${cores} threads · SIMD128`, `badge "${badge}"`);
        }
      } else {
        assert(!isolated && rt.mode === 'single' && rt.build === 'single' && rt.threads === 1, `mode ${rt.mode} with ${rt.threads} threads`);
        assert(/^1 thread · SIMD128: this host does not allow cross-origin isolation/.test(badge), `badge "${badge}"`);
      }
      await driver.executeScript('return window.pffReady');
      const s = await call(driver, 'status');
      assert(s.model && /pretrained/.test(s.model.name), `model ${JSON.stringify(s.model && s.model.name)}`);
      assert(s.dataset.name === 'mnist' && !s.dataset.sizes.test, `test images loaded at boot: ${JSON.stringify(s.dataset)}`);
      const size = await driver.executeScript('return window.pff.testSize()');
      assert(size === 10000, `test images: ${size}`);
      return `${badge}, wasm ${rt.version}`;
    });

    await T('drawn digits are classified: a "1" and a "2"', async () => {
      await tab(driver, 'draw');
      await clearDrawing(driver);
      const read = [];
      for (const [stroke, want] of [
        [ONE, '1'],
        [TWO, '2'],
      ]) {
        await drawStroke(driver, stroke);
        const p = await waitFor(
          driver,
          'const t = document.querySelector(\'[data-testid="prediction"]\').textContent; return /^[0-9]$/.test(t) && t',
          'a prediction',
          15000,
        );
        const bars = await driver.executeScript(
          'return Array.from(document.querySelectorAll(\'[data-testid="probabilities"] li\'), (li) => parseFloat(li.querySelector(".fill").style.width))',
        );
        assert(bars.length === 10 && Math.abs(bars.reduce((a, b) => a + b, 0) - 100) < 2, `bars ${bars}`);
        assert(p === want, `the pretrained model reads a drawn "${want}" as ${p}`);
        read.push(p);
        await clearDrawing(driver);
      }
      assert((await prediction(driver)) === '', 'Clear leaves a prediction');
      return `read ${read.join(', ')}`;
    });

    await T('a few seeded training batches lower the loss, with the same bits in the threaded and single builds', async () => {
      const t = await driver.executeScript(`return (${seededTrainingInPage})();`);
      const mean = (xs) => xs.reduce((a, b) => a + b.goodness_loss, 0) / xs.length;
      const r = { ...t, first: mean(t.first), last: mean(t.last) };
      assert(r.batches === 30, `trained ${r.batches} batches`);
      assert(r.last < r.first, `goodness loss ${r.first} -> ${r.last}`);
      assert(/pretrained/.test(r.name), `model not restored: ${r.name}`);
      trainedHashes[r.build] = r.hash;
      // the threaded and single builds share kernels (the relaxed build fuses multiply and add)
      if (trainedHashes.threads && trainedHashes.single) {
        assert(trainedHashes.threads === trainedHashes.single, `the builds' weights differ after the same seeded training: ${JSON.stringify(trainedHashes)}`);
      }
      return `${r.build} build: goodness loss ${r.first.toFixed(2)} -> ${r.last.toFixed(2)}, tensors sha256 ${r.hash.slice(0, 12)}…`;
    });

    await T('a weights file loads through the file input (Fashion-MNIST), then the pretrained model again', async () => {
      await tab(driver, 'weights');
      await driver.findElement(By.css('[data-testid="weights-input"]')).sendKeys(FASHION);
      await waitFor(driver, 'return /Loaded fashion-web/.test(document.querySelector("#weights-message").textContent)', 'the Fashion model', 60000);
      const s = await call(driver, 'status');
      assert(s.model.name === 'fashion-web.safetensors' && s.model.meta.dataset === 'fashion', JSON.stringify({ name: s.model.name, meta: s.model.meta }));
      await driver.findElement(By.id('weights-pretrained')).click();
      await waitFor(driver, 'return /Loaded the pretrained/.test(document.querySelector("#weights-message").textContent)', 'the pretrained model', 60000);
      assert((await call(driver, 'status')).model.meta.dataset === 'mnist', 'the pretrained model is back');
      return `test accuracy of the Fashion model ${(s.model.meta.test_accuracy * 100).toFixed(2)} %`;
    });

    await T('no console errors and no requests to other origins', async () => {
      const pageErrors = await driver.executeScript('return window.pff.state.errors');
      assert(pageErrors.length === 0, `the page reported: ${pageErrors.join(' | ')}`);
      assert(seen.errors.length === 0, seen.errors.join('\n'));
      assert(seen.requests > 0, 'no request was observed: the network watch is not working');
      assert(seen.offOrigin.length === 0, seen.offOrigin.join('\n'));
      return `${seen.requests} requests watched`;
    });
  } finally {
    await driver.quit().catch(() => {});
    await server.stop();
  }
}

const version = execFileSync(FIREFOX, ['--version'], { encoding: 'utf8' }).trim();
console.log(`${version}, ${execFileSync(GECKODRIVER, ['--version'], { encoding: 'utf8' }).split('\n')[0]}`);
for (const mode of MODES) {
  try {
    await runMode(mode);
  } catch (e) {
    await runner.test(`[firefox ${mode}] the mode runs`, () => Promise.reject(e));
  }
}
const c = runner.counts();
console.log(`\n${c.passed} passed, ${c.failed} failed`);
process.exit(c.failed > 0 ? 1 : 0);
