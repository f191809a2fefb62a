// The runner of the page's end-to-end tests (tests/e2e/panels/, one file per panel), in both
// modes:
//   isolated  (COOP/COEP: the threaded build with navigator.hardwareConcurrency threads)
//   single    (--no-isolation: the single-thread build, and the page says why)
// against `target/release/pff serve` (or tests/e2e/server.mjs with PFF_SERVER=node).
//
//   cd tests/e2e && npm ci && node run.mjs            (every panel, both modes)
//   node run.mjs --mode isolated | --mode single       (one mode)
//   node run.mjs --only draw[,weights…]                (some panels: any of PANELS below)
//   node run.mjs --unit                                (only the node tests: the preprocessing, the boundary)
//   PFF_SERVER=node node run.mjs                       (force the node server)
//
// Each panel's tests open their own page (a fresh browser profile): none uses another's
// leftovers. The last test of each mode checks that no page it opened logged a console error or
// asked another origin for anything. Screenshots go to artifacts/screenshots/.
// The last line is `N passed, M failed`; the exit code is non-zero on any failure.

import { HAVE_PRETRAINED, Runner, assert, startServer } from './lib.mjs';

/** The panels in the order they run; `modes` limits a panel to some modes, `unit` runs once, without a page. */
const PANELS = [
  { name: 'unit', unit: true },
  { name: 'boundary', unit: true },
  { name: 'boot' },
  { name: 'train' },
  { name: 'settle-dream' },
  { name: 'draw' },
  { name: 'data' },
  { name: 'weights' },
  { name: 'soak' },
  { name: 'crash' },
  { name: 'shots', modes: ['isolated'] },
  { name: 'keyboard' },
];

const args = process.argv.slice(2);
const opt = (flag) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : null);
const only = args.includes('--unit') ? ['unit', 'boundary'] : opt('--only') ? opt('--only').split(',') : null;
for (const n of only || []) if (!PANELS.some((p) => p.name === n)) throw new Error(`--only ${n}: expected one of ${PANELS.map((p) => p.name).join(', ')}`);
const chosen = PANELS.filter((p) => !only || only.includes(p.name));
const MODES = opt('--mode') ? [opt('--mode')] : ['isolated', 'single'];
for (const m of MODES) if (!['isolated', 'single'].includes(m)) throw new Error(`--mode ${m}: expected isolated or single`);

const runner = new Runner('pff e2e');
const load = (p) => import(`./panels/${p.name}.mjs`);

/** Runs the chosen panels in one mode, against a server of its own. */
async function runMode(mode) {
  const isolation = mode === 'isolated';
  const panels = chosen.filter((p) => !p.unit && (!p.modes || p.modes.includes(mode)));
  if (!panels.length) return;
  console.log(`\n# ${mode} mode`);
  const server = await startServer({ isolation });
  console.log(`  server: ${server.kind} at ${server.url}${HAVE_PRETRAINED ? '' : ' (no pretrained weights: a tiny model is trained first)'}`);
  if (process.env.PFF_SERVER !== 'node' && server.kind !== 'pff serve') throw new Error(`served by ${server.kind}, not pff serve`);
  /** @type {import('./lib.mjs').ModeContext & {runner: Runner}} */
  const ctx = { mode, isolation, url: server.url, test: (name, fn) => runner.test(`[${mode}] ${name}`, fn), watchers: [], runner };
  try {
    for (const p of panels) {
      try {
        await (await load(p)).run(ctx);
      } catch (e) {
        runner.results.push({ name: `[${mode}] ${p.name}: setup`, status: 'failed', error: e });
        console.log(`  ✘ [${mode}] ${p.name}: setup: ${e.stack || e}`);
      }
    }
    await ctx.test('no console errors and no requests to other origins', async () => {
      const errors = ctx.watchers.flatMap((w) => w.errors);
      const offOrigin = ctx.watchers.flatMap((w) => w.offOrigin);
      assert(errors.length === 0, errors.join('\n'));
      assert(offOrigin.length === 0, offOrigin.join('\n'));
      return `${ctx.watchers.length} pages watched`;
    });
  } finally {
    await server.stop();
  }
}

const t0 = Date.now();
for (const p of chosen.filter((p) => p.unit)) {
  console.log(`\n# ${p.name} (node)`);
  await (await load(p)).run({ test: (name, fn) => runner.test(name, fn) });
}
for (const mode of MODES) {
  try {
    await runMode(mode);
  } catch (e) {
    runner.results.push({ name: `[${mode}] setup`, status: 'failed', error: e });
    console.log(`  ✘ [${mode}] setup: ${e.stack || e}`);
  }
}
const c = runner.counts();
console.log(`\n${((Date.now() - t0) / 1000).toFixed(0)} s`);
console.log(`${c.passed} passed, ${c.failed} failed${c.skipped ? `, ${c.skipped} skipped` : ''}`);
process.exit(c.failed ? 1 : 0);
