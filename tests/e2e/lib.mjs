// Shared pieces of the e2e tests: the paths, the server (pff serve, or the node stand-in), and
// for the page's tests (run.mjs, panels/) the pictures, TWO, rng, openPage and model helpers;
// with the browser side (browser.mjs: launch, watch, Runner, waitText, tab, assert).

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, tab, waitText, watch } from './browser.mjs';

export * from './browser.mjs';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
// PFF_E2E_ROOT: serve another folder holding www/, pkg/ and data/ (with the node server), e.g.
// to try the page with a pretrained file in data/weights/ without touching the repository
export const ROOT = process.env.PFF_E2E_ROOT ? path.resolve(process.env.PFF_E2E_ROOT) : REPO;
export const ARTIFACTS = path.join(REPO, 'artifacts');
/** The release binary the tests serve and run. */
export const PFF = process.env.PFF_BIN || path.join(REPO, 'target', 'release', 'pff'); // PFF_BIN: another build of it

/** Whether to serve with `pff serve` (the default; the node stand-in only when asked for with
 * PFF_SERVER=node or for another root). A missing or broken `pff` binary is an error, not a
 * silent fallback. */
export function pffCanServe() {
  if (process.env.PFF_SERVER === 'node' || process.env.PFF_E2E_ROOT) return false;
  if (!fs.existsSync(PFF)) throw new Error(`${PFF} is missing: build it with cargo build --release (or set PFF_SERVER=node)`);
  const r = spawnSync(PFF, ['serve', '--help'], { encoding: 'utf8', timeout: 20000 });
  if (r.status !== 0) throw new Error(`${PFF} serve --help failed: ${r.stderr}`);
  return true;
}

/** Starts a server on a free port; resolves {url, kind, stop()}. */
export async function startServer({ isolation = true } = {}) {
  const usePff = pffCanServe();
  const cmd = usePff ? PFF : process.execPath;
  const args = usePff ? ['serve', '--port', '0'] : [path.join(REPO, 'tests', 'e2e', 'server.mjs'), '--port', '0', '--root', ROOT];
  if (!isolation) args.push('--no-isolation');
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 30000);
    const onData = (d) => {
      out += d;
      const m = out.match(/http:\/\/127\.0\.0\.1:(\d+)\//);
      if (m) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${m[1]}/`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}): ${out}`));
    });
  });
  child.removeAllListeners('exit');
  return {
    url,
    kind: usePff ? 'pff serve' : 'node server.mjs',
    stop: () =>
      new Promise((r) => {
        if (child.exitCode !== null) return r();
        child.once('exit', r);
        child.kill('SIGTERM');
        setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 3000);
      }),
  };
}

/**
 * Runs in the page (Playwright `page.evaluate(fn)`, WebDriver `executeScript(`return (${fn})()`)`):
 * trains `tiny` for 30 seeded batches from scratch, restores the model the page had, and returns
 * the batches' first and last five records, their count, the restored model's name, the build
 * and the sha256 of the trained tensors (the bytes after the safetensors header).
 */
export async function seededTrainingInPage() {
  const app = window.pff;
  const had = app.state.status.model;
  const saved = had ? (await app.call('exportWeights', {})).bytes : null;
  const name = had ? had.name : null;
  const batches = [];
  const off = app.engine.on('progress', (ev) => ev.batches && batches.push(...ev.batches));
  await app.call('loadDataset', { name: 'mnist', splits: { train: 1500, dev: 200 } });
  await app.call('train', {
    request: { preset: 'tiny', dataset: 'mnist', seed: 11, epochs: 1, train_limit: 1500, dev_limit: 200, no_test: true, no_prior: true },
    from: 'scratch',
  });
  off();
  const { bytes } = await app.call('exportWeights', {});
  const digest = await crypto.subtle.digest('SHA-256', bytes.slice(8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true))));
  const hash = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
  if (saved) await app.call('loadWeights', { bytes: saved, name });
  await app.modelChanged('restored');
  return {
    first: batches.slice(0, 5),
    last: batches.slice(-5),
    batches: batches.length,
    name: had ? app.state.status.model.name : null,
    hash,
    build: app.state.runtime.build,
  };
}

// ------------------------------------------------------------------ the page's tests (run.mjs, panels/)

export const PRETRAINED = path.join(ROOT, 'data', 'weights', 'mnist-web.safetensors');
export const HAVE_PRETRAINED = fs.existsSync(PRETRAINED);
export const FASHION = path.join(ROOT, 'data', 'weights', 'fashion-web.safetensors');
export const SHOTS = path.join(ARTIFACTS, 'screenshots');
export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 390, height: 844 };

/** A vertical "1", top to bottom. */
// prettier-ignore
export const ONE = [[0.5, 0.15], [0.5, 0.35], [0.51, 0.55], [0.51, 0.75], [0.51, 0.87]];

/** A handwritten "2": an arc over the top, a diagonal down to the left, a base line. */
// prettier-ignore
export const TWO = [
  [0.3, 0.3], [0.36, 0.2], [0.46, 0.16], [0.57, 0.17], [0.65, 0.24], [0.67, 0.34], [0.62, 0.45],
  [0.52, 0.56], [0.42, 0.66], [0.33, 0.76], [0.3, 0.8], [0.42, 0.8], [0.55, 0.79], [0.68, 0.8], [0.74, 0.82],
];

/** A seeded generator in [0, 1) (mulberry32). */
export function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A request to the page's engine (protocol.js), from the test. */
export const call = (page, type, payload = {}) => page.evaluate(([t, p]) => window.pff.call(t, p).then((r) => r), [type, payload]);

/** Trains `tiny` for 30 seeded batches in the page (seededTrainingInPage), then restores the model it had. */
export const seededTraining = (page) => page.evaluate(seededTrainingInPage);

/** The current model's weights file, exported in the page, as a Buffer (base64 on the way). */
export async function exportWeights(page) {
  const b64 = await page.evaluate(async () => {
    const { bytes } = await window.pff.call('exportWeights', {});
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(s);
  });
  return Buffer.from(b64, 'base64');
}

/** Draws `points` (in [0,1]² of the pad) with the mouse, as one stroke. */
export async function drawStroke(page, points) {
  const box = await page.locator('[data-testid="draw-canvas"]').boundingBox();
  const at = ([x, y]) => [box.x + x * box.width, box.y + y * box.height];
  await page.mouse.move(...at(points[0]));
  await page.mouse.down();
  for (const p of points.slice(1)) await page.mouse.move(...at(p), { steps: 4 });
  await page.mouse.up();
}

/** A full-page screenshot to artifacts/screenshots/NAME.png. */
export async function shoot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/**
 * What the runner (run.mjs) gives each panel's tests in a mode: the mode, the server's address,
 * `test(name, fn)` (a test of the runner, named with the mode), and the watchers of every page
 * opened (openPage), which the mode's last test checks.
 * @typedef {{mode: string, isolation: boolean, url: string, test: (name: string, fn: () => Promise<any>) => Promise<void>, watchers: {errors: string[], offOrigin: string[]}[]}} ModeContext
 */

/** A model for pages that start without one (no pretrained file): trained once, in the first page that asks. */
let fixtureModel = null;

/**
 * Opens the page (with `?test`, unless `test` is false, and `query`) in a browser of its own (a
 * fresh profile, so a fresh cache) and, unless `goto` is false, waits until it has booted and (`model`) holds a model. Its console errors
 * and off-origin requests are watched and kept in `ctx.watchers` (the runner's last test of
 * the mode checks them all), besides the crash tests' deliberate crash and what `allow` adds.
 * `ctx` is the runner's mode context: {mode, isolation, url, test, watchers}.
 */
export async function openPage(ctx, { viewport = DESKTOP, query = '', allow = [], goto = true, model = true, test = true } = {}) {
  const browser = await launch({ viewport });
  const page = await browser.context.newPage();
  const seen = watch(page, ctx.url, { allow: [/deliberate crash/, ...allow] });
  ctx.watchers.push(seen);
  // ?test: the worker answers the test hooks (crash, memory), which the page ships to no one else
  const params = [test ? 'test' : '', query.replace(/^\?/, '')].filter(Boolean).join('&');
  const url = `${ctx.url}${params ? `?${params}` : ''}`;
  if (goto) {
    await page.goto(url);
    await page.waitForFunction(() => window.pffBooted, null, { timeout: 60000 });
    if (model) await ensureModel(page);
  }
  return { page, seen, url, context: browser.context, close: () => browser.close() };
}

/** Makes sure the page holds a model: the pretrained one it loads, else the fixture model. */
async function ensureModel(page) {
  if (HAVE_PRETRAINED) {
    await page.waitForFunction(() => window.pffReady, null, { timeout: 60000 });
    return;
  }
  if (await page.evaluate(() => !!window.pff.state.status.model)) return;
  if (!fixtureModel) {
    await page.evaluate(async () => {
      const app = window.pff;
      await app.call('loadDataset', { name: 'mnist', splits: { train: 20000, dev: 500 } });
      await app.call('train', {
        request: { preset: 'tiny', dataset: 'mnist', seed: 1, epochs: 1, train_limit: 20000, dev_limit: 500, no_test: true },
        from: 'scratch',
      });
      await app.modelChanged('trained');
    });
    fixtureModel = await exportWeights(page);
    return;
  }
  await page.evaluate(async (b) => {
    await window.pff.call('loadWeights', { bytes: new Uint8Array(b), name: 'tiny-fixture.safetensors' });
    await window.pff.modelChanged('loaded');
  }, Array.from(fixtureModel));
}

/**
 * What a first visit to `url` (a fresh browser, an empty cache; `args`: its Chromium flags)
 * transfers until a drawn "2" gets its verdict: the total in bytes (bodies and headers), the
 * paths fetched, the three largest and how many responses. The page is watched (`watchers`).
 */
export async function firstVisit(url, { args = undefined, watchers = [] } = {}) {
  const fresh = await launch({ viewport: DESKTOP, args });
  try {
    const p = await fresh.context.newPage();
    watchers.push(watch(p, url));
    const finished = [];
    p.on('requestfinished', (r) => finished.push(r));
    await p.goto(url);
    await p.waitForFunction(() => window.pffBooted, null, { timeout: 60000 });
    await tab(p, 'draw');
    await drawStroke(p, TWO);
    await waitText(p, '[data-testid="prediction"]', /^[0-9]$/, 15000);
    const files = [];
    for (const r of finished.slice()) {
      const z = await r.sizes();
      files.push([new URL(r.url()).pathname, z.responseBodySize + z.responseHeadersSize]);
    }
    const total = files.reduce((t, [, n]) => t + n, 0);
    const names = files.map(([f]) => f).join(' ');
    files.sort((x, y) => y[1] - x[1]);
    const top = files
      .slice(0, 3)
      .map(([f, n]) => `${f.split('/').pop()} ${(n / 1e6).toFixed(2)} MB`)
      .join(', ');
    return { total, names, top, count: files.length };
  } finally {
    await fresh.close();
  }
}

/** Brings the page's pretrained model back (a test that changed the model restores it). */
export async function restorePretrained(page) {
  await page.evaluate(async () => {
    const c = window.pff.catalog;
    await window.pff.call('loadWeights', { url: c.pretrained_url, name: c.pretrained_name });
    await window.pff.modelChanged('restored');
  });
}
