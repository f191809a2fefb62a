// The object types www/protocol.js declares (its JSDoc `@typedef {{key: type, …}} Name`), read
// from the file itself, and a check of a real object's keys against one of them: the tests that
// hold the page's hand-written mirror of the core's structs to what the core sends.

import fs from 'node:fs';
import path from 'node:path';
import { REPO } from './lib.mjs';

/** Name -> Map(key -> optional) of every object-literal typedef of protocol.js. */
export function declaredTypes(file = path.join(REPO, 'www', 'protocol.js')) {
  const text = fs.readFileSync(file, 'utf8');
  const types = new Map();
  for (const block of text.match(/\/\*\*[\s\S]*?\*\//g) || []) {
    const body = block
      .replace(/^\/\*\*|\*\/$/g, '')
      .split('\n')
      .map((l) => l.replace(/^\s*\* ?/, ''))
      .join(' ');
    const at = body.indexOf('@typedef {');
    if (at < 0) continue;
    // the type: from its opening brace to the matching one
    let depth = 0;
    let end = at + '@typedef '.length;
    for (; end < body.length; end++) {
      if (body[end] === '{') depth++;
      if (body[end] === '}' && --depth === 0) break;
    }
    const type = body.slice(at + '@typedef {'.length, end).trim();
    const name = body
      .slice(end + 1)
      .trim()
      .split(/\s+/)[0];
    if (!type.startsWith('{') || !type.endsWith('}')) continue; // unions, intersections, aliases
    types.set(name, topLevelKeys(type.slice(1, -1)));
  }
  return types;
}

/** The keys at the top level of an object type's body: `a: T, b?: {c: U}` -> a, b (optional). */
function topLevelKeys(inner) {
  const keys = new Map();
  let depth = 0;
  let start = 0;
  const field = (s) => {
    const m = /^\s*([A-Za-z_$][\w$]*)(\??):/.exec(s);
    if (m) keys.set(m[1], m[2] === '?');
  };
  for (let i = 0; i < inner.length; i++) {
    const ch = inner[i];
    if ('{([<'.includes(ch)) depth++;
    else if ('})]>'.includes(ch) && !(ch === '>' && inner[i - 1] === '=')) depth--;
    else if (ch === ',' && depth === 0) {
      field(inner.slice(start, i));
      start = i + 1;
    }
  }
  field(inner.slice(start));
  return keys;
}

/**
 * What is wrong with `obj`'s keys as type `name`: a declared key it lacks (unless optional) and
 * a key it has that the type does not declare. `skip` names keys the caller checks elsewhere.
 */
export function keyProblems(types, name, obj, { skip = [] } = {}) {
  const decl = types.get(name);
  if (!decl) return [`protocol.js declares no object type ${name}`];
  if (!obj || typeof obj !== 'object') return [`${name}: got ${JSON.stringify(obj)}, not an object`];
  const problems = [];
  for (const [k, optional] of decl) if (!optional && !(k in obj) && !skip.includes(k)) problems.push(`${name}.${k} is declared but not sent`);
  for (const k of Object.keys(obj)) if (!decl.has(k) && !skip.includes(k)) problems.push(`${name}.${k} is sent but not declared`);
  return problems;
}
