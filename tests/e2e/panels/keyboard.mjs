// Keyboard only (../keyboard.mjs, which also runs alone): every control of the six panels.

import { HAVE_PRETRAINED } from '../lib.mjs';
import { keyboardTests } from '../keyboard.mjs';

/** @param {import('../lib.mjs').ModeContext & {runner: import('../lib.mjs').Runner}} ctx */
export async function run(ctx) {
  // its controls need a model to use
  if (HAVE_PRETRAINED) await keyboardTests({ url: ctx.url, runner: ctx.runner, prefix: `[${ctx.mode}] ` });
}
