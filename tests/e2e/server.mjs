// A stand-in for `pff serve` (used by the e2e tests with PFF_SERVER=node or PFF_E2E_ROOT): the
// same URL layout (/ -> www/, /pkg/ -> pkg/, /data/ -> data/) and the same isolation headers.
//
//   node tests/e2e/server.mjs [--port 0] [--no-isolation] [--root DIR]
//
// Prints `listening on http://127.0.0.1:PORT/` once ready.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveFromCommandLine } from '../common/static-server.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await serveFromCommandLine(process.argv.slice(2), (get) => {
    const root = path.resolve(get('--root', REPO));
    return [
      ['/pkg/', path.join(root, 'pkg')],
      ['/data/', path.join(root, 'data')],
      ['/', path.join(root, 'www')],
    ];
  });
}
