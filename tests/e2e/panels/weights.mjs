// The Weights panel and the weights protocol: corrupt and foreign files refused with the model
// kept, a download, the pretrained model back, and the Fashion-MNIST file through the file input.

import fs from 'node:fs';
import { FASHION, HAVE_PRETRAINED, assert, call, exportWeights, openPage, shoot, tab, waitText } from '../lib.mjs';

/** @param {import('../lib.mjs').ModeContext} ctx */
export async function run(ctx) {
  const { isolation, test: T } = ctx;
  const { page, close } = await openPage(ctx);
  try {
    await T('corrupt weights are refused through the protocol and the model is kept', async () => {
      const model = (await call(page, 'status')).model;
      const r = await page.evaluate(async () => {
        const app = window.pff;
        const good = (await app.call('exportWeights', {})).bytes;
        const errs = [];
        for (const bytes of [good.slice(0, good.length >> 1), new Uint8Array(1000).fill(7), new Uint8Array(0)]) {
          errs.push(
            await app.call('loadWeights', { bytes, name: 'bad.safetensors' }).then(
              () => null,
              (e) => e.message,
            ),
          );
        }
        const px = new Float32Array(784).fill(0.1);
        const c = await app.call('classify', { pixels: px });
        return { errs, pred: c.prediction, name: (await app.call('status')).model.name };
      });
      assert(
        r.errs.every((e) => e && e.length > 10),
        `errors: ${JSON.stringify(r.errs)}`,
      );
      assert(r.name === model.name, `model changed to ${r.name}`);
      assert(r.pred >= 0 && r.pred < 10, 'classify after bad weights');
      return `"${r.errs[0]}"`;
    });

    await T('a corrupted weights upload shows a clear error and the model keeps working', async () => {
      const model = (await call(page, 'status')).model;
      await tab(page, 'weights');
      const good = await exportWeights(page);
      const bad = Buffer.from(good.subarray(0, Math.floor(good.length * 0.6)));
      await page.setInputFiles('[data-testid="weights-input"]', { name: 'broken.safetensors', mimeType: 'application/octet-stream', buffer: bad });
      const msg = await waitText(page, '#weights-message', /not a valid pff weights file/);
      assert(/current model is kept/.test(msg), msg);
      assert(/not a valid/.test(await page.textContent('[data-testid="status"]')), 'status line shows the error');
      const s = await call(page, 'status');
      assert(s.model.name === model.name, `model became ${s.model.name}`);
      await tab(page, 'draw');
      await page.click('[data-testid="random-digit"]');
      await waitText(page, '[data-testid="prediction"]', /^[0-9]$/);
      return `"${msg}"`;
    });

    await T('bad weights uploads are named and change nothing: empty, a huge header, foreign tensors', async () => {
      await tab(page, 'weights');
      const before = (await call(page, 'status')).model.name;
      const huge = Buffer.alloc(64);
      huge.writeBigUInt64LE(1n << 40n, 0); // a header "of a terabyte"
      const foreign = (() => {
        const header = Buffer.from(JSON.stringify({ x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }));
        const len = Buffer.alloc(8);
        len.writeBigUInt64LE(BigInt(header.length), 0);
        return Buffer.concat([len, header, Buffer.alloc(4)]);
      })();
      const said = [];
      for (const [name, buffer] of [
        ['empty.safetensors', Buffer.alloc(0)],
        ['huge.safetensors', huge],
        ['foreign.safetensors', foreign],
      ]) {
        await page.setInputFiles('[data-testid="weights-input"]', { name, mimeType: 'application/octet-stream', buffer });
        const msg = await waitText(page, '#weights-message', new RegExp(`${name.replace('.', '\\.')} is not a valid pff weights file`));
        assert(/current model is kept/.test(msg), msg);
        said.push(msg.slice(0, 90));
      }
      assert((await call(page, 'status')).model.name === before, 'the model changed');
      return said.join(' | ');
    });

    await T('downloading the weights gives a safetensors file', async () => {
      await tab(page, 'weights');
      const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#weights-download')]);
      const file = await dl.path();
      const buf = fs.readFileSync(file);
      const n = Number(buf.readBigUInt64LE(0));
      const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
      assert(header.__metadata__ && header.__metadata__.config, 'no config metadata');
      assert(/\.safetensors$/.test(dl.suggestedFilename()), dl.suggestedFilename());
      if (isolation) await shoot(page, 'desktop-weights');
      return `${dl.suggestedFilename()}, ${buf.length} bytes`;
    });

    if (HAVE_PRETRAINED) {
      await T('the Weights panel loads the pretrained model back', async () => {
        // another model first: the current one under another name
        await page.evaluate(async () => {
          const { bytes } = await window.pff.call('exportWeights', {});
          await window.pff.call('loadWeights', { bytes, name: 'another.safetensors' });
          await window.pff.modelChanged('loaded');
        });
        await tab(page, 'weights');
        await page.click('#weights-pretrained');
        await waitText(page, '#weights-message', /Loaded the pretrained/);
        const s = await call(page, 'status');
        assert(s.model && /pretrained/.test(s.model.name), JSON.stringify(s.model));
      });
    }

    if (fs.existsSync(FASHION) && HAVE_PRETRAINED) {
      await T('the Fashion-MNIST model loads through the file input (then the pretrained one again)', async () => {
        await tab(page, 'weights');
        await page.setInputFiles('[data-testid="weights-input"]', {
          name: 'fashion-web.safetensors',
          mimeType: 'application/octet-stream',
          buffer: fs.readFileSync(FASHION),
        });
        await waitText(page, '#weights-message', /Loaded fashion-web/);
        const s = await call(page, 'status');
        assert(
          s.model.name === 'fashion-web.safetensors' && s.model.meta.dataset === 'fashion' && s.model.prior,
          JSON.stringify({ name: s.model.name, meta: s.model.meta }),
        );
        await page.click('#weights-pretrained');
        await waitText(page, '#weights-message', /Loaded the pretrained/);
        assert((await call(page, 'status')).model.meta.dataset === 'mnist', 'the pretrained model is back');
        return `${s.model.config.preset}, test accuracy ${(s.model.meta.test_accuracy * 100).toFixed(2)} %`;
      });
    }
  } finally {
    await close();
  }
}
