// @ts-check
// The Weights panel: what model is loaded, download it, load one from disk or the pretrained one.

import { $ } from './dom.js';
import { errorInfo } from './engine.js';

export class WeightsView {
  /** @param {import('./app.js').App} app */
  constructor(app) {
    this.app = app;
    /** @type {Set<string>} shipped models whose file the site does not serve */
    this.missing = new Set();
    $('#weights-download').addEventListener('click', () => this.download(false));
    $('#weights-download-half').addEventListener('click', () => this.download(true));
    const input = $('#weights-input', HTMLInputElement);
    input.addEventListener('change', () => this.fromDisk(input));
    app.on('status', () => this.render());
  }

  show() {
    this.render();
  }

  /** @param {string} text @param {'ok'|'info'|'error'} [level] */
  say(text, level = 'ok') {
    const el = $('#weights-message');
    el.textContent = text;
    el.className = `message-box ${level}`;
  }

  render() {
    const s = this.app.state.status;
    const m = s && s.model;
    const dl = $('#model-info');
    dl.textContent = '';
    const add = (/** @type {string} */ k, /** @type {string} */ v) => {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      dl.append(dt, dd);
    };
    if (!m) {
      add('model', 'none loaded');
    } else {
      const c = m.config;
      add('model', m.name || 'weights');
      add('preset', c.preset);
      add('layers', `2 × ${c.hidden} units, ${c.steps} settling steps, latent ${c.latent}`);
      add('parameters', m.params.toLocaleString('en'));
      add('generative prior', m.prior ? `yes, ${m.prior.components} components` : 'not yet (fitted when you open Dream)');
      add('best epoch', `${m.meta.epochs}${m.meta.dataset ? ` on ${m.meta.dataset}` : ''}`);
      add('classes', m.class_names.join(', '));
      if (m.meta.dev_accuracy !== undefined) add('dev accuracy', `${(m.meta.dev_accuracy * 100).toFixed(2)} %`);
      if (m.meta.test_accuracy !== undefined) add('test accuracy', `${(m.meta.test_accuracy * 100).toFixed(2)} %`);
      add('learning rate', String(c.lr));
    }
    $('#weights-download', HTMLButtonElement).disabled = !m;
    $('#weights-download-half', HTMLButtonElement).disabled = !m;
    this.renderModels();
  }

  /** One button per model published with the page (the catalog's); the default one is
   * #weights-pretrained. A model whose file the site does not serve is hidden once tried. */
  renderModels() {
    const box = $('#weights-models');
    const models = this.app.catalog ? this.app.catalog.models : [];
    if (box.childElementCount !== models.length) {
      box.textContent = '';
      models.forEach((m, i) => {
        const b = document.createElement('button');
        b.type = 'button';
        b.id = i === 0 ? 'weights-pretrained' : `weights-model-${m.name}`;
        b.dataset.model = m.name;
        b.textContent = m.label;
        b.addEventListener('click', () => this.pretrained(m));
        box.append(b);
      });
    }
    for (const b of box.querySelectorAll('button'))
      b.hidden = this.missing.has(b.dataset.model || '') || (b.id === 'weights-pretrained' && this.app.state.pretrainedAvailable === false);
  }

  /** @param {boolean} half */
  async download(half) {
    try {
      const { bytes } = await this.app.call('exportWeights', { half });
      const m = this.app.state.status && this.app.state.status.model;
      const name = `pff-${m ? m.config.preset : 'model'}-${half ? 'f16' : 'f32'}.safetensors`;
      const url = URL.createObjectURL(new Blob([/** @type {Uint8Array<ArrayBuffer>} */ (bytes)], { type: 'application/octet-stream' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = name;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      this.say(`Saved ${name} (${(bytes.length / 1024).toFixed(0)} KiB).`);
    } catch (e) {
      this.say(`Could not export the weights: ${errorInfo(e).message}`, 'error');
    }
  }

  /** @param {HTMLInputElement} input */
  async fromDisk(input) {
    const file = input.files && input.files[0];
    if (!file) return;
    this.say(`Loading ${file.name}…`, 'info');
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      await this.app.call('loadWeights', { bytes, name: file.name });
      this.app.session.setRestore({ bytes, name: file.name });
      this.say(`Loaded ${file.name}.`);
      this.app.message(`Loaded the model ${file.name}.`, 'ok');
      await this.app.modelChanged('loaded');
    } catch (err) {
      const e = errorInfo(err);
      const text =
        e.kind === 'bad-weights'
          ? `${file.name} is not a valid pff weights file (${e.message}); the current model is kept.`
          : `${file.name} could not be loaded: ${e.message}`;
      this.say(text, 'error');
      this.app.message(text, 'error');
    } finally {
      input.value = '';
    }
  }

  /** Loads a model published with the page (a catalog entry). @param {import('./protocol.js').ShippedModel} model */
  async pretrained(model) {
    try {
      const { url } = model;
      const name = `pretrained ${model.name}`;
      const r = await this.app.call('loadWeights', { url, optional: true, name });
      if (!r.loaded) {
        this.missing.add(model.name);
        this.say(`The model ${model.name} is not published with this page.`, 'error');
        this.render();
        return;
      }
      this.app.session.setRestore({ url, name });
      const classes = r.model ? r.model.class_names : [];
      this.say(`Loaded the pretrained ${model.name} model (${classes.length} classes: ${classes.join(', ')}).`);
      this.app.message(`Loaded the pretrained model ${model.name}.`, 'ok');
      await this.app.modelChanged('loaded');
    } catch (e) {
      this.say(errorInfo(e).message, 'error');
    }
  }
}
