// Shared helpers of the e2e tests: start a server (pff serve, or the node stand-in), launch the
// system Chromium through playwright-core, watch console errors and off-origin requests.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
// PFF_E2E_ROOT: serve another folder holding www/, pkg/ and data/ (with the node server), e.g.
// to try the page with a pretrained file in data/weights/ without touching the repository
export const ROOT = process.env.PFF_E2E_ROOT ? path.resolve(process.env.PFF_E2E_ROOT) : REPO;
export const ARTIFACTS = path.join(REPO, 'artifacts');
export const CHROMIUM = process.env.PFF_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const PFF = path.join(REPO, 'target', 'release', 'pff');

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

/** Launches Chromium with a fresh profile; resolves {context, dir, close()}. `serviceWorkers:
 * 'block'` keeps a bundle's service worker out (the page then stays without cross-origin
 * isolation, on the single-thread build). */
export async function launch({ viewport = { width: 1280, height: 900 }, serviceWorkers = 'allow' } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pff-e2e-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
    viewport,
    serviceWorkers: /** @type {'allow'|'block'} */ (serviceWorkers),
    acceptDownloads: true,
  });
  return {
    context,
    dir,
    close: async () => {
      await context.close().catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Records console errors, page errors and requests leaving the origin of `base`. */
export function watch(page, base, { allow = [] } = {}) {
  const origin = new URL(base).origin;
  const w = { errors: [], offOrigin: [] };
  const allowed = (text) => allow.some((re) => re.test(text));
  page.on('console', (m) => {
    if (m.type() === 'error' && !allowed(m.text())) w.errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => {
    if (!allowed(String(e))) w.errors.push(`pageerror: ${e.message}`);
  });
  page.on('request', (r) => {
    const u = r.url();
    if (u.startsWith('data:') || u.startsWith('blob:')) return;
    if (new URL(u).origin !== origin) w.offOrigin.push(u);
  });
  return w;
}

/** A minimal test runner: named async tests in order, `N passed, M failed` at the end. */
export class Runner {
  constructor(name) {
    this.name = name;
    this.results = [];
  }

  async test(name, fn, { skip = null } = {}) {
    const t0 = Date.now();
    if (skip) {
      this.results.push({ name, status: 'skipped', reason: skip });
      console.log(`  - ${name} (skipped: ${skip})`);
      return;
    }
    try {
      const note = await fn();
      const ms = Date.now() - t0;
      this.results.push({ name, status: 'passed', ms });
      console.log(`  ✔ ${name} (${(ms / 1000).toFixed(1)} s)${note ? ` — ${note}` : ''}`);
    } catch (e) {
      const ms = Date.now() - t0;
      this.results.push({ name, status: 'failed', ms, error: e });
      console.log(`  ✘ ${name} (${(ms / 1000).toFixed(1)} s)\n      ${String(e && e.stack ? e.stack : e).split('\n').slice(0, 6).join('\n      ')}`);
    }
  }

  counts() {
    const c = { passed: 0, failed: 0, skipped: 0 };
    for (const r of this.results) c[r.status] += 1;
    return c;
  }
}

/** Waits until the text of `selector` matches `re`, and returns it. */
export async function waitText(page, selector, re, timeout = 30000) {
  await page.waitForFunction(([s, src]) => {
    const el = document.querySelector(s);
    return el && new RegExp(src).test(el.textContent);
  }, [selector, re.source], { timeout });
  return page.textContent(selector);
}

/** Opens the page's panel `name` with its tab and waits until it shows. */
export async function tab(page, name) {
  await page.click(`#tab-${name}`);
  await page.waitForFunction((n) => !document.querySelector(`#panel-${n}`).hidden, name);
}

export function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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
  await app.call('train', { request: { preset: 'tiny', dataset: 'mnist', seed: 11, epochs: 1, train_limit: 1500, dev_limit: 200, no_test: true, no_prior: true }, from: 'scratch' });
  off();
  const { bytes } = await app.call('exportWeights', {});
  const digest = await crypto.subtle.digest('SHA-256', bytes.slice(8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true))));
  const hash = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
  if (saved) await app.call('loadWeights', { bytes: saved, name });
  await app.modelChanged('restored');
  return { first: batches.slice(0, 5), last: batches.slice(-5), batches: batches.length, name: had ? app.state.status.model.name : null, hash, build: app.state.runtime.build };
}

// ------------------------------------------------------------------ a dataset of its own, served plainly

/** A deterministic generator in [0, 1). */
export function lcg(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** One 28×28 image of shape `label`, jittered in place, size and stroke. */
export function shape(label, rand) {
  const img = new Uint8Array(784);
  const cx = 14 + (rand() - 0.5) * 6;
  const cy = 14 + (rand() - 0.5) * 6;
  const r = 6 + rand() * 4;
  const w = 1 + rand() * 1.5;
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const dx = x - cx;
      const dy = y - cy;
      const d = [
        Math.abs(dy) <= w && Math.abs(dx) <= r ? 0 : 9, // bar
        Math.abs(dx) <= w && Math.abs(dy) <= r ? 0 : 9, // pole
        Math.abs(Math.hypot(dx, dy) - r) - w, // ring
        Math.max(Math.abs(dx), Math.abs(dy)) <= r ? Math.min(Math.abs(dx - dy), Math.abs(dx + dy)) / Math.SQRT2 - w : 9, // cross
      ][label];
      if (d <= 0) img[y * 28 + x] = 200 + Math.floor(rand() * 55);
    }
  }
  return img;
}

/** Writes the four standard IDX files of `n` training and `m` test images of the first `classes` shapes. */
export function writeIdx(dir, n, m, classes) {
  fs.mkdirSync(dir, { recursive: true });
  const rand = lcg(7);
  const write = (images, labels, prefix) => {
    const head = (magic, dims) => {
      const b = Buffer.alloc(4 + 4 * dims.length);
      b.writeUInt32BE(magic, 0);
      dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
      return b;
    };
    fs.writeFileSync(path.join(dir, `${prefix}-images-idx3-ubyte`), Buffer.concat([head(0x803, [images.length, 28, 28]), ...images.map((i) => Buffer.from(i))]));
    fs.writeFileSync(path.join(dir, `${prefix}-labels-idx1-ubyte`), Buffer.concat([head(0x801, [labels.length]), Buffer.from(labels)]));
  };
  for (const [prefix, count] of [['train', n], ['t10k', m]]) {
    const labels = Array.from({ length: count }, (_, i) => i % classes);
    write(labels.map((l) => shape(l, rand)), labels, prefix);
  }
}

/** `python3 -m http.server` on a free port of 127.0.0.1: a static host that sets no headers. */
export async function plainServer(dir) {
  const child = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`python3 -m http.server did not start: ${out}`)), 15000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /port (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${m[1]}/`);
      }
    });
    child.once('exit', (code) => reject(new Error(`python3 -m http.server exited (${code}): ${out}`)));
  });
  const log = []; // one line per request
  child.stderr.on('data', (d) => log.push(...String(d).split('\n').filter((l) => /"GET /.test(l))));
  return { url, log, stop: () => child.kill('SIGTERM') };
}

