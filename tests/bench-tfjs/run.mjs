// Drives the anchor benchmark: starts server.mjs on a free 127.0.0.1 port, opens index.html in
// headless Debian Chromium (fresh profile), waits for window.benchResult and prints it as one JSON
// object on stdout (progress goes to stderr).
//
//   cd tests/bench-tfjs && npm ci && node run.mjs
//   node run.mjs [--no-isolation] [--reps 5] [--budget-ms 3000] [--rounds 3] [--max-seconds 110]
//                [--no-fresh-b]
//                [--shapes 1000x784x500,1000x500x500] [--tfjs-threads N] [--no-tfjs-spoof]
//                [--js-timed] [--timeout-s 170]
//                [--out FILE] [--pkg DIR]
//
// Exit code 0 when the page produced a result with no page error and no request leaving
// 127.0.0.1; 1 otherwise.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { REPO, startServer } from './server.mjs';

const CHROMIUM = process.env.PFF_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const isolation = !args.includes('--no-isolation');
const timeoutMs = Number(opt('--timeout-s', 170)) * 1000;
const out = opt('--out', null);
const pkgDir = path.resolve(opt('--pkg', path.join(REPO, 'pkg')));

const query = new URLSearchParams();
for (const [flag, key] of [['--reps', 'reps'], ['--budget-ms', 'budget'], ['--rounds', 'rounds'], ['--max-seconds', 'maxSeconds'], ['--shapes', 'shapes'], ['--tfjs-threads', 'tfjsThreads']]) {
  if (args.includes(flag)) query.set(key, opt(flag));
}
if (args.includes('--no-fresh-b')) query.set('freshB', '0');
if (args.includes('--no-tfjs-spoof')) query.set('tfjsSpoof', '0');
if (args.includes('--js-timed')) query.set('jsTimed', '1');

for (const f of ['relaxed/pff.js', 'threads/pff.js', 'single/pff.js']) {
  if (!fs.existsSync(path.join(pkgDir, f))) {
    console.error(`missing ${path.join(pkgDir, f)}: build the wasm packages first (wasm-pack)`);
    process.exit(1);
  }
}

const t0 = Date.now();
const loadBefore = os.loadavg();
const server = await startServer({ isolation, pkgDir });
const origin = new URL(server.url).origin;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pff-bench-tfjs-'));
let context = null;
let result = null;
const problems = [];
try {
  context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
  });
  const page = context.pages()[0] || (await context.newPage());
  page.on('console', (m) => {
    const text = m.text();
    if (text.startsWith('[bench] ')) console.error(text.slice(8));
    else if (m.type() === 'error') problems.push(`console: ${text}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  context.on('request', (r) => {
    const u = r.url();
    if (u.startsWith('data:') || u.startsWith('blob:')) return;
    if (new URL(u).origin !== origin) problems.push(`off-origin request: ${u}`);
  });
  const qs = query.toString();
  await page.goto(`${server.url}index.html${qs ? `?${qs}` : ''}`);
  await page.waitForFunction(() => window.benchResult, null, { timeout: timeoutMs, polling: 250 });
  result = await page.evaluate(() => window.benchResult);
} catch (e) {
  problems.push(`driver: ${e.message}`);
} finally {
  if (context) await context.close().catch(() => {});
  fs.rmSync(dir, { recursive: true, force: true });
  await server.close();
}

const report = {
  isolation,
  chromium: CHROMIUM,
  ...(result || {}),
  machine: { cpus: os.cpus().length, loadavgBefore: loadBefore, loadavgAfter: os.loadavg() },
  problems,
  wallSeconds: (Date.now() - t0) / 1000,
};
const json = JSON.stringify(report, null, 2);
if (out) fs.writeFileSync(out, `${json}\n`);
console.log(json);
process.exit(result && !result.error && !problems.some((p) => !p.startsWith('console:')) ? 0 : 1);
