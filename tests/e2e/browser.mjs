// The browser side of the e2e tests: launch the system Chromium through playwright-core with a
// fresh profile, watch a page's console errors and off-origin requests, wait for its texts, and
// a minimal test runner. lib.mjs re-exports all of it.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.PFF_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Chromium's arguments for a WebGPU adapter without a GPU: SwiftShader, its software Vulkan
 * (../shared/docs/gpu-notes.md). Without them `navigator.gpu.requestAdapter()` gives null.
 */
export const CHROMIUM_WEBGPU_ARGS = [
  ...CHROMIUM_ARGS.filter((a) => a !== '--disable-gpu'),
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-webgpu-adapter=swiftshader',
  '--disable-vulkan-surface',
];

/** Launches Chromium with a fresh profile (and `args`); resolves {context, dir, close()}. `serviceWorkers:
 * 'block'` keeps a bundle's service worker out (the page then stays without cross-origin
 * isolation, on the single-thread build). */
export async function launch({ viewport = { width: 1280, height: 900 }, serviceWorkers = 'allow', args = CHROMIUM_ARGS } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pff-e2e-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    args,
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
      console.log(
        `  ✘ ${name} (${(ms / 1000).toFixed(1)} s)\n      ${String(e && e.stack ? e.stack : e)
          .split('\n')
          .slice(0, 6)
          .join('\n      ')}`,
      );
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
  await page.waitForFunction(
    ([s, src]) => {
      const el = document.querySelector(s);
      return el && new RegExp(src).test(el.textContent);
    },
    [selector, re.source],
    { timeout },
  );
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
