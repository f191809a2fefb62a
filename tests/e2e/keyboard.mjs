// Keyboard only: every control of the six panels is reached with Tab and Shift+Tab and used with
// Enter, Space and the arrow keys, at 1280×720 (a page taller than the window), and every focused
// control shows its focus ring and is not covered by the sticky header (issue 27, item 8).
// run.mjs runs these in both modes; alone:
//
//   cd tests/e2e && node keyboard.mjs [--mode isolated|single]   (needs target/release/pff and pkg/)

import { fileURLToPath } from 'node:url';
import { Runner, assert, launch, startServer, watch } from './lib.mjs';

const WINDOW = { width: 1280, height: 720 };

/** Where the focus is, and whether it can be seen: its ring, and its box clear of the header. */
const where = (page) =>
  page.evaluate(() => {
    const el = /** @type {HTMLElement} */ (document.activeElement);
    const header = /** @type {HTMLElement} */ (document.querySelector('header.top')).getBoundingClientRect();
    const r = el.getBoundingClientRect();
    const cs = getComputedStyle(el);
    const input = /** @type {HTMLInputElement} */ (el);
    const name =
      el.id ||
      (el.dataset && el.dataset.index !== undefined ? `tile-${el.dataset.index}` : '') ||
      (input.name ? `${input.name}:${input.value}` : '') ||
      (el.closest('footer') ? 'footer-link' : el.tagName.toLowerCase());
    return {
      name,
      body: el === document.body,
      inHeader: !!el.closest('header'),
      top: r.top,
      bottom: r.bottom,
      headerBottom: header.bottom,
      height: innerHeight,
      ring: el.matches(':focus-visible') && cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2,
    };
  });

/** What is wrong with how the focused control is shown, or null. */
function problem(f) {
  if (f.body) return 'the focus is on the page itself';
  if (!f.ring) return `${f.name} shows no focus ring`;
  if (!f.inHeader && f.top < f.headerBottom - 0.5) return `${f.name} (top ${f.top.toFixed(0)}) is under the header (bottom ${f.headerBottom.toFixed(0)})`;
  if (f.bottom > f.height + 0.5) return `${f.name} (bottom ${f.bottom.toFixed(0)}) is below the window (${f.height})`;
  return null;
}

/**
 * Presses `key` until the focus is on `target` (a name as `where` gives it, or a predicate),
 * checking every control it passes. Returns the names passed and the number of presses.
 */
async function pressTo(page, key, target, max = 60) {
  const passed = [];
  for (let n = 1; n <= max; n++) {
    await page.keyboard.press(key);
    const f = await where(page);
    const p = problem(f);
    assert(!p, `${key} #${n}: ${p}`);
    passed.push(f.name);
    if (typeof target === 'function' ? target(f.name) : f.name === target) return { passed, presses: n };
  }
  throw new Error(`${key} did not reach ${target} in ${max} presses: ${passed.join(' → ')}`);
}

const tabTo = (page, target, max) => pressTo(page, 'Tab', target, max);
const backTo = (page, target, max) => pressTo(page, 'Shift+Tab', target, max);

/** Walks a panel from its tab to the footer and back, checking every stop; returns the stops. */
async function walk(page, panel, expected) {
  const down = await tabTo(page, 'footer-link');
  const up = await backTo(page, `tab-${panel}`);
  const stops = new Set([...down.passed, ...up.passed]);
  const missing = expected.filter((e) => !stops.has(e));
  assert(missing.length === 0, `${panel}: not reached with Tab: ${missing.join(', ')} (stops: ${down.passed.join(' → ')})`);
  return down.passed.length;
}

async function waitFor(page, fn, arg, timeout = 30000) {
  await page.waitForFunction(fn, arg, { timeout });
}

const active = (page) => page.evaluate(() => document.activeElement && document.activeElement.id);

/**
 * The keyboard tests against the page at `url`, as tests of `runner` named with `prefix`.
 * @param {{url: string, runner: Runner, prefix?: string}} o
 */
export async function keyboardTests({ url, runner, prefix = '' }) {
  const T = (name, fn) => runner.test(`${prefix}${name}`, fn);
  const browser = await launch({ viewport: WINDOW });
  const page = await browser.context.newPage();
  const seen = watch(page, url);
  try {
    await T('keyboard: the tabs take arrows, Home and End; every control of Draw is reached and used', async () => {
      await page.goto(url);
      await waitFor(page, () => window.pffReady, null, 90000);
      // (the words come from the core: MNIST's noun is "digit")
      const prompt = await page.textContent('#draw-source');
      assert(prompt === 'Draw one digit from 0 to 9, as large as you like.', `Draw's prompt "${prompt}"`);
      await tabTo(page, 'tab-draw', 5);
      await page.keyboard.press('ArrowRight');
      assert((await active(page)) === 'tab-settle' && !(await page.isHidden('#panel-settle')), 'ArrowRight did not open Settle');
      await page.keyboard.press('End');
      assert((await active(page)) === 'tab-weights' && !(await page.isHidden('#panel-weights')), 'End did not open Weights');
      await page.keyboard.press('ArrowRight');
      assert((await active(page)) === 'tab-draw', 'ArrowRight from the last tab did not wrap to Draw');
      await page.keyboard.press('ArrowLeft');
      await page.keyboard.press('Home');
      assert((await active(page)) === 'tab-draw' && !(await page.isHidden('#panel-draw')), 'Home did not open Draw');
      const stops = await walk(page, 'draw', ['clear', 'undo', 'random-digit', 'footer-link']);
      await tabTo(page, 'random-digit');
      await page.keyboard.press('Enter');
      await waitFor(page, () => document.querySelector('#prediction').dataset.state === 'guess');
      await backTo(page, 'clear');
      await page.keyboard.press('Space');
      await waitFor(page, () => document.querySelector('#prediction').dataset.state === 'empty');
      await tabTo(page, 'random-digit');
      await page.keyboard.press('Space');
      await waitFor(page, () => document.querySelector('#prediction').dataset.state === 'guess');
      await backTo(page, 'tab-draw');
      return `${stops} stops from the tab to the footer`;
    });

    await T('keyboard: Settle plays, steps, scrubs and switches hypotheses', async () => {
      await page.keyboard.press('ArrowRight');
      await waitFor(page, () => !document.querySelector('#panel-settle').hidden && /Winner/.test(document.querySelector('#settle-note').textContent));
      const stops = await walk(page, 'settle', ['settle-play', 'settle-step', 'settle-scrub', 'hyp:auto']);
      await tabTo(page, 'settle-step');
      const before = await page.inputValue('#settle-scrub');
      await page.keyboard.press('Enter');
      await waitFor(page, (b) => document.querySelector('#settle-scrub').value !== b, before);
      await tabTo(page, 'settle-scrub');
      const mid = await page.inputValue('#settle-scrub');
      await page.keyboard.press(mid === '0' ? 'ArrowRight' : 'ArrowLeft');
      await waitFor(page, (b) => document.querySelector('#settle-scrub').value !== b, mid);
      await tabTo(page, 'hyp:auto');
      await page.keyboard.press('ArrowDown');
      await waitFor(page, () => document.querySelector('input[name="hyp"]:checked').value === '0');
      await backTo(page, 'settle-play');
      await page.keyboard.press('Space');
      await waitFor(page, () => document.querySelector('#settle-play').getAttribute('aria-label') === 'Pause');
      await page.keyboard.press('Space');
      await waitFor(page, () => document.querySelector('#settle-play').getAttribute('aria-label') === 'Play');
      await backTo(page, 'tab-settle');
      return `${stops} stops`;
    });

    await T('keyboard: Dream resamples and makes a new pair', async () => {
      await page.keyboard.press('ArrowRight');
      await waitFor(page, () => document.querySelector('#dream-grid').dataset.seed, null, 60000);
      const stops = await walk(page, 'dream', ['resample', 'interp-new']);
      const seed = await page.getAttribute('#dream-grid', 'data-seed');
      await tabTo(page, 'resample');
      await page.keyboard.press('Enter');
      await waitFor(page, (s) => document.querySelector('#dream-grid').dataset.seed !== s, seed);
      await tabTo(page, 'interp-new');
      await page.keyboard.press('Space');
      await backTo(page, 'tab-dream');
      return `${stops} stops`;
    });

    await T('keyboard: Train is filled in, started, paused, resumed and stopped; the focus stays on its controls', async () => {
      await page.keyboard.press('ArrowRight');
      await waitFor(page, () => !document.querySelector('#panel-train').hidden && document.querySelector('#train-dataset').options.length > 0);
      const stops = await walk(page, 'train', [
        'train-preset',
        'train-dataset',
        'train-size',
        'train-dev',
        'train-epochs',
        'train-lr',
        'train-steps',
        'train-seed',
        'train-from:scratch',
        'train-start',
      ]);
      await tabTo(page, 'train-preset');
      await page.keyboard.press('ArrowDown');
      assert((await page.inputValue('#train-preset')) === 'web', 'ArrowDown on the preset did not pick web');
      await page.keyboard.press('ArrowUp');
      assert((await page.inputValue('#train-preset')) === 'tiny', 'ArrowUp on the preset did not pick tiny again');
      await tabTo(page, 'train-size');
      await page.keyboard.press('Control+A');
      await page.keyboard.type('500');
      await tabTo(page, 'train-dev');
      await page.keyboard.press('Control+A');
      await page.keyboard.type('200');
      await tabTo(page, 'train-from:scratch');
      await page.keyboard.press('ArrowDown');
      assert(await page.isChecked('#train-from-current'), 'ArrowDown did not choose "current weights"');
      await page.keyboard.press('ArrowUp');
      assert(await page.isChecked('input[name="train-from"][value="scratch"]'), 'ArrowUp did not choose "scratch" again');
      await tabTo(page, 'train-start');
      await page.keyboard.press('Enter');
      await waitFor(page, () => !document.querySelector('#train-pause').disabled);
      assert((await active(page)) === 'train-pause', `after Start training the focus is on ${(await active(page)) || 'the page'}`);
      assert(!problem(await where(page)), problem(await where(page)));
      await page.keyboard.press('Space');
      await waitFor(page, () => document.querySelector('#train-pause').textContent === 'Resume');
      await page.keyboard.press('Enter');
      await waitFor(page, () => document.querySelector('#train-pause').textContent === 'Pause');
      await tabTo(page, 'train-stop', 1);
      await page.keyboard.press('Enter');
      await waitFor(page, () => /^(Stopped|Finished)/.test(document.querySelector('#train-note').textContent), null, 180000);
      await waitFor(page, () => !document.querySelector('#train-start').disabled);
      assert((await active(page)) === 'train-start', `after the run the focus is on ${(await active(page)) || 'the page'}`);
      await backTo(page, 'tab-train');
      return `${stops} stops`;
    });

    await T('keyboard: the Data tiles are one tab stop with arrows inside; "Open in Draw" is one Tab after them', async () => {
      await page.keyboard.press('ArrowRight');
      await waitFor(page, () => document.querySelectorAll('#data-tiles .tile').length > 10, null, 60000);
      const stops = await walk(page, 'data', ['data-count', 'data-eval', 'data-wrong', 'data-next', 'tile-0']);
      await tabTo(page, 'data-eval');
      await page.keyboard.press('Enter');
      await waitFor(page, () => document.querySelector('#panel-data').dataset.accuracy, null, 60000);
      await tabTo(page, 'tile-0');
      await page.keyboard.press('ArrowRight');
      assert((await where(page)).name === 'tile-1', `ArrowRight went to ${(await where(page)).name}`);
      await page.keyboard.press('ArrowDown');
      const down = (await where(page)).name;
      const perRow = await page.evaluate(() => {
        const t = [...document.querySelectorAll('#data-tiles .tile')];
        return t.filter((x) => /** @type {HTMLElement} */ (x).offsetTop === /** @type {HTMLElement} */ (t[0]).offsetTop).length;
      });
      assert(down === `tile-${1 + perRow}`, `ArrowDown went to ${down}, not a row (${perRow}) further`);
      assert(!problem(await where(page)), problem(await where(page)));
      await page.keyboard.press('Enter');
      await waitFor(page, () => !document.querySelector('#data-inspect').hidden);
      const { presses } = await tabTo(page, 'data-to-draw', 1);
      await page.keyboard.press('Enter');
      await waitFor(page, () => !document.querySelector('#panel-draw').hidden && /#\d+/.test(document.querySelector('#draw-source').textContent));
      assert((await active(page)) === 'tab-draw', `after "Open in Draw" the focus is on ${(await active(page)) || 'the page'}`);
      // back to Data: the tile that was chosen keeps the tab stop
      await page.keyboard.press('End');
      await page.keyboard.press('ArrowLeft');
      await tabTo(page, (n) => n.startsWith('tile-'));
      assert((await where(page)).name === down, `the grid's tab stop is ${(await where(page)).name}, not the chosen ${down}`);
      await backTo(page, 'tab-data');
      return `${stops} stops; "Open in Draw" ${presses} Tab after the chosen tile`;
    });

    await T('keyboard: Weights downloads with Enter and reaches the file input', async () => {
      await page.keyboard.press('ArrowRight');
      await waitFor(page, () => !document.querySelector('#panel-weights').hidden);
      const stops = await walk(page, 'weights', ['weights-download', 'weights-download-half', 'weights-input']);
      await tabTo(page, 'weights-download');
      const download = page.waitForEvent('download', { timeout: 30000 });
      await page.keyboard.press('Enter');
      const d = await download;
      assert(/\.safetensors$/.test(d.suggestedFilename()), d.suggestedFilename());
      return `${stops} stops; downloaded ${d.suggestedFilename()}`;
    });

    await T('keyboard: no console error', async () => {
      assert(seen.errors.length === 0, seen.errors.join('\n'));
    });
  } finally {
    await browser.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const modes = args.includes('--mode') ? [args[args.indexOf('--mode') + 1]] : ['isolated', 'single'];
  const runner = new Runner('pff keyboard e2e');
  for (const mode of modes) {
    const server = await startServer({ isolation: mode === 'isolated' });
    try {
      await keyboardTests({ url: server.url, runner, prefix: `[${mode}] ` });
    } finally {
      await server.stop();
    }
  }
  const c = runner.counts();
  console.log(`${c.passed} passed, ${c.failed} failed`);
  process.exit(c.failed ? 1 : 0);
}
