// @ts-check
// The page's elements by selector, of the type the code needs: `$('#train-lr', HTMLInputElement)`.
// A missing element, or one of another kind, is an error at once rather than a null later.

/**
 * @template {Element} [T=HTMLElement]
 * @param {string} sel
 * @param {{new (...args: any[]): T, prototype: T}} [type] the element's class (HTMLElement by default)
 * @param {ParentNode} [root] where to look (the document by default)
 * @returns {T}
 */
export function $(sel, type, root = document) {
  const el = root.querySelector(sel);
  const want = type || HTMLElement;
  if (!(el instanceof want)) throw new Error(`pff: ${sel} is ${el ? `a ${el.constructor.name}` : 'missing'}, not a ${want.name}`);
  return /** @type {T} */ (el);
}

/**
 * Every element matching `sel`, as HTMLElements.
 * @param {string} sel
 * @param {ParentNode} [root]
 * @returns {HTMLElement[]}
 */
export function $$(sel, root = document) {
  return [...root.querySelectorAll(sel)].filter((e) => e instanceof HTMLElement);
}

/** A canvas's 2-D context (every canvas of the page has one). @param {HTMLCanvasElement} canvas */
export function ctx2d(canvas) {
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('pff: no 2-D canvas context');
  return ctx;
}
