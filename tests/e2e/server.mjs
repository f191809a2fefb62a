// A tiny stand-in for `pff serve`, used by the e2e tests when the pff binary has no `serve`:
// the same URL layout (/ -> www/, /pkg/ -> pkg/, /data/ -> data/), the same isolation headers
// (COOP same-origin, COEP require-corp, CORP same-origin; left out with --no-isolation), and
// the MIME types the page needs. Listens on 127.0.0.1 only.
//
//   node tests/e2e/server.mjs [--port 0] [--no-isolation] [--root DIR]
//
// Prints `listening on http://127.0.0.1:PORT/` once ready.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.gz': 'application/gzip',
  '.safetensors': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
};

export function createServer({ root, isolation = true }) {
  const mounts = [
    ['/pkg/', path.join(root, 'pkg')],
    ['/data/', path.join(root, 'data')],
    ['/', path.join(root, 'www')],
  ];
  return http.createServer((req, res) => {
    const headers = { 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-cache' };
    if (isolation) {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
      headers['Cross-Origin-Resource-Policy'] = 'same-origin';
    }
    const fail = (code, text) => {
      res.writeHead(code, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(text);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(405, 'method not allowed');
    let urlPath;
    try {
      urlPath = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch (_) {
      return fail(400, 'bad path');
    }
    if (urlPath.includes('\0')) return fail(400, 'bad path');
    const [prefix, dir] = mounts.find(([p]) => urlPath.startsWith(p));
    let file = path.resolve(dir, '.' + urlPath.slice(prefix.length - 1));
    if (file !== dir && !file.startsWith(dir + path.sep)) return fail(403, 'forbidden');
    let st;
    try {
      st = fs.statSync(file);
      if (st.isDirectory()) {
        file = path.join(file, 'index.html');
        st = fs.statSync(file);
      }
      const real = fs.realpathSync(file);
      const realDir = fs.realpathSync(dir);
      if (!real.startsWith(realDir + path.sep)) return fail(403, 'forbidden');
    } catch (_) {
      return fail(404, 'not found');
    }
    const type = TYPES[path.extname(file).toLowerCase()] || 'application/octet-stream';
    res.writeHead(200, { ...headers, 'Content-Type': type, 'Content-Length': st.size });
    if (req.method === 'HEAD') return res.end();
    fs.createReadStream(file).pipe(res);
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const get = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : dflt;
  };
  const root = path.resolve(get('--root', path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..')));
  const server = createServer({ root, isolation: !args.includes('--no-isolation') });
  server.listen(Number(get('--port', 0)), '127.0.0.1', () => {
    console.log(`listening on http://127.0.0.1:${server.address().port}/`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
