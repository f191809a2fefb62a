// @ts-check
// One event emitter for the page: the engine's events (engine.js) and the page's own
// (session.js), each typed by a map from an event's name to what it carries, so that a listener
// reading a field its event does not have is a type error.

/** @template {Record<string, any>} Events */
export class Emitter {
  constructor() {
    /** @type {Map<keyof Events, Set<(data: any) => void>>} */
    this.listeners = new Map();
  }

  /**
   * Calls `fn` with every `name` event from now on; returns what stops it.
   * @template {keyof Events} K
   * @param {K} name
   * @param {(data: Events[K]) => void} fn
   * @returns {() => void}
   */
  on(name, fn) {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  /**
   * Tells every listener of `name`; one that throws is logged and the others still run.
   * @template {keyof Events} K
   * @param {K} name
   * @param {Events[K]} data
   */
  emit(name, data) {
    for (const fn of this.listeners.get(name) || []) {
      try {
        fn(data);
      } catch (e) {
        console.warn(`pff: a '${String(name)}' listener failed`, e);
      }
    }
  }
}
