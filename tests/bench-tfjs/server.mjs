// The static server of the tfjs anchor benchmark:
//
//   /pkg/...  -> the repository's pkg/ (wasm-pack output: pkg/relaxed, pkg/threads, pkg/single)
//   /...      -> this folder (index.html, the workers, node_modules/)
//
// with the cross-origin isolation headers unless --no-isolation.
//
//   node server.mjs [--port 0] [--no-isolation] [--pkg DIR]
//
// Prints `listening on http://127.0.0.1:PORT/` once ready.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as shared from '../common/static-server.mjs';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..');

const mounts = (pkgDir) => [
  ['/pkg/', path.resolve(pkgDir)],
  ['/', HERE],
];

/** Starts the benchmark's server; resolves {url, server, close()}. */
export function startServer({ pkgDir = path.join(REPO, 'pkg'), ...opts } = {}) {
  return shared.startServer({ ...opts, mounts: mounts(pkgDir) });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await shared.serveFromCommandLine(process.argv.slice(2), (get) => mounts(get('--pkg', path.join(REPO, 'pkg'))));
}
