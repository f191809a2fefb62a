// @ts-check
// Promise wrapper around engine-worker.js (the protocol is declared in protocol.js).
//
//   const eng = await Engine.start();                 // or Engine.start({init: {mode: 'single'}})
//   const r = await eng.call('classify', {pixels});
//   const off = eng.on('progress', (ev) => ...);   // also 'log', 'status', 'crash', 'restarted'
//
// A worker that crashes (an `error` or `messageerror` event, or a trap the worker reports as
// `fatal`) is terminated and started again; pending calls are rejected with a clear message,
// 'crash' is emitted at once and 'restarted' (with the new init result) when the new worker is
// ready. At most 3 restarts per minute, so a worker that cannot start does not loop.

import { Emitter } from './emitter.js';

/** @typedef {import('./protocol.js').Requests} Requests */
/** @typedef {import('./protocol.js').InitOptions} InitOptions */

/** A failed request: `kind` says what failed (protocol.js, ErrorInfo). */
export class EngineError extends Error {
  /** @param {import('./protocol.js').ErrorInfo} info */
  constructor(info) {
    super(info.message);
    this.kind = info.kind;
    this.file = info.file;
  }
}

/** The worker died during the request (kind `crashed`). */
export class EngineCrashed extends EngineError {
  /** @param {string} message */
  constructor(message) {
    super({ kind: 'crashed', message });
  }
}

/** What an error says and of what kind, whatever was thrown. @param {unknown} e */
export function errorInfo(e) {
  if (e instanceof EngineError) return { kind: e.kind, message: e.message, file: e.file };
  return { kind: 'internal', message: e instanceof Error ? e.message : String(e), file: undefined };
}

/** @extends {Emitter<import('./protocol.js').EngineEvents>} */
export class Engine extends Emitter {
  /** @param {{url?: URL|string, init?: InitOptions}} [options] */
  static async start(options = {}) {
    const eng = new Engine(options);
    await eng.boot();
    return eng;
  }

  /** @param {{url?: URL|string, init?: InitOptions}} [options] */
  constructor({ url, init = {} } = {}) {
    super();
    this.url = url || new URL('engine-worker.js', import.meta.url);
    this.initPayload = init; // e.g. {mode: 'single'}
    /** @type {Worker|null} */
    this.worker = null;
    /** @type {Map<number, {resolve: (r: any) => void, reject: (e: Error) => void, type: string}>} */
    this.pending = new Map();
    this.nextId = 1;
    /** @type {import('./protocol.js').Runtime|null} */
    this.runtime = null;
    /** @type {number[]} */
    this.restartTimes = [];
    this.generation = 0;
    this.dead = false;
  }

  spawn() {
    const gen = ++this.generation;
    const w = new Worker(this.url, { type: 'module', name: 'pff-engine' });
    w.onmessage = (e) => {
      if (gen !== this.generation) return;
      this.receive(e.data);
    };
    w.onerror = (e) => {
      if (e && e.preventDefault) e.preventDefault();
      if (gen !== this.generation) return;
      this.crashed(`the engine worker failed: ${(e && e.message) || 'unknown error'}`);
    };
    w.onmessageerror = () => {
      if (gen !== this.generation) return;
      this.crashed('a message from the engine worker could not be read');
    };
    this.worker = w;
    return w;
  }

  /** @returns {Promise<import('./protocol.js').Runtime>} */
  async boot() {
    this.spawn();
    const rt = await this.call('init', this.initPayload);
    this.runtime = rt;
    return rt;
  }

  /** @param {import('./protocol.js').WorkerMessage} msg */
  receive(msg) {
    if (!msg) return;
    if ('event' in msg) {
      if (msg.event === 'fatal') {
        this.emit('log', { level: 'error', message: msg.message });
        this.crashed(msg.message);
      } else if (msg.event === 'progress') this.emit('progress', msg);
      else if (msg.event === 'status') this.emit('status', msg);
      else this.emit('log', msg);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new EngineError(msg.error));
  }

  /**
   * @template {keyof Requests} K
   * @param {K} type
   * @param {Requests[K]['payload']} payload
   * @param {Transferable[]} [transfer]
   * @returns {Promise<Requests[K]['result']>}
   */
  call(type, payload, transfer = []) {
    const worker = this.worker;
    if (this.dead || !worker) return Promise.reject(new EngineCrashed('the engine is not running (it crashed too often)'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, type });
      worker.postMessage({ id, type, payload }, transfer);
    });
  }

  /** @param {string} reason */
  crashed(reason) {
    const old = this.worker;
    this.worker = null;
    this.generation++; // ignore anything the old worker still says
    if (old) old.terminate();
    for (const [, p] of this.pending) p.reject(new EngineCrashed(`${reason} (during ${p.type})`));
    this.pending.clear();
    const now = Date.now();
    this.restartTimes = this.restartTimes.filter((t) => now - t < 60000);
    const willRestart = this.restartTimes.length < 3;
    this.emit('crash', { reason, willRestart });
    if (!willRestart) {
      this.dead = true;
      return;
    }
    this.restartTimes.push(now);
    setTimeout(async () => {
      try {
        const runtime = await this.boot();
        this.emit('restarted', { reason, runtime });
      } catch (e) {
        this.emit('log', { level: 'error', message: `the engine could not be restarted: ${errorInfo(e).message}` });
      }
    }, 200);
  }

  terminate() {
    this.dead = true;
    this.generation++;
    if (this.worker) this.worker.terminate();
    this.worker = null;
  }
}
