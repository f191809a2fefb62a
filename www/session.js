// @ts-check
// The page's state, in one place: the views read `session.state` (read-only to them) and change
// it only through the named setters below, each of which tells the page with one of its events
// (AppEvents). app.js fills it from the engine; the views listen with `session.on`.

import { Emitter } from './emitter.js';

/** @typedef {import('./protocol.js').Status} Status */
/** The page's panels. @typedef {'draw'|'settle'|'dream'|'train'|'data'|'weights'} PanelName */
/**
 * Where the input the panels work on came from: drawn on the pad, a test image, a dreamed one.
 * @typedef {{kind: 'draw'} | {kind: 'test', index: number, label: number} | {kind: 'dream'}} InputSource
 */
/** How to bring the model back after a worker crash: its bytes, or the address it came from. @typedef {{bytes: Uint8Array, name: string} | {url: string, name: string}} Restore */
/** Why the test images could not be loaded. @typedef {{kind: string, file: string|null, message: string}} DataError */
/** @typedef {import('./protocol.js').BatchStats} BatchStats */
/**
 * The last training run of the Train panel: the core's result and the first and last batches.
 * @typedef {import('./protocol.js').TrainResult & {batches: number, last_dev_accuracy: number|null, first_losses: BatchStats[], last_losses: BatchStats[]}} TrainSummary
 */

/**
 * The page's events, by name: what each carries.
 * @typedef {{
 *   status: Status,
 *   input: {pixels: Float32Array|null, source: InputSource},
 *   model: {why: string},
 *   progress: import('./protocol.js').ProgressEvent,
 *   crash: {reason: string, willRestart: boolean},
 *   panel: PanelName,
 * }} AppEvents
 */

/**
 * @typedef {{
 *   runtime: import('./protocol.js').Runtime|null,
 *   status: Status|null,
 *   input: Float32Array|null,
 *   source: InputSource,
 *   hasModel: boolean,
 *   booted: boolean,
 *   panel: PanelName,
 *   pretrainedAvailable: boolean|null,
 *   restore: Restore|null,
 *   dataError: DataError|null,
 *   lastTrain: TrainSummary|null,
 *   errors: string[],
 * }} State
 */

/** @type {State} */
const state = {
  runtime: null, // the build the worker runs
  status: null, // the worker's last status (model, dataset, training)
  input: null, // the image the panels work on (catalog.image.pixels values in [0, 1]), or null
  source: { kind: 'draw' }, // where it came from
  hasModel: false,
  booted: false,
  panel: 'draw',
  pretrainedAvailable: null, // whether the site serves its default model (null: not asked yet)
  restore: null, // how to bring the model back after a crash
  dataError: null, // why the test images could not be loaded
  lastTrain: null, // the Train panel's last run
  errors: [], // every error the status line showed
};

/** @type {Emitter<AppEvents>} */
const events = new Emitter();

export const session = {
  /** @type {Readonly<State>} */
  state,
  on: events.on.bind(events),
  /** @param {import('./protocol.js').Runtime} rt */
  setRuntime(rt) {
    state.runtime = rt;
  },
  /** A new status from the worker. @param {Status} s */
  setStatus(s) {
    state.status = s;
    state.hasModel = !!s.model;
    events.emit('status', s);
  },
  /** The image the panels work on (null: none), and where it came from. @param {Float32Array|null} pixels @param {InputSource} source */
  setInput(pixels, source = { kind: 'draw' }) {
    state.input = pixels;
    state.source = source;
    events.emit('input', { pixels, source });
  },
  /** The model changed (new, loaded, trained, restored): `why` says how. @param {string} why */
  modelChanged(why) {
    events.emit('model', { why });
  },
  /** @param {PanelName} name */
  setPanel(name) {
    state.panel = name;
    events.emit('panel', name);
  },
  /** @param {import('./protocol.js').ProgressEvent} ev */
  progress(ev) {
    events.emit('progress', ev);
  },
  /** @param {AppEvents['crash']} ev */
  crashed(ev) {
    events.emit('crash', ev);
  },
  setBooted() {
    state.booted = true;
  },
  /** @param {boolean} available */
  setPretrainedAvailable(available) {
    state.pretrainedAvailable = available;
  },
  /** @param {Restore|null} restore */
  setRestore(restore) {
    state.restore = restore;
  },
  /** @param {DataError|null} e */
  setDataError(e) {
    state.dataError = e;
  },
  /** An error the status line showed. @param {string} text */
  noteError(text) {
    state.errors.push(text);
  },
  /** @param {TrainSummary|null} t */
  setLastTrain(t) {
    state.lastTrain = t;
  },
};

/** @typedef {typeof session} Session */
