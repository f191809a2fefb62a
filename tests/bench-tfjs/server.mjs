// A tiny static server for the tfjs anchor benchmark. Listens on 127.0.0.1 only.
//
//   /pkg/...  -> the repository's pkg/ (wasm-pack output: pkg/threads, pkg/single)
//   /...      -> this folder (index.html, the workers, node_modules/)
//
// With isolation (the default) every response carries COOP same-origin, COEP require-corp and
// CORP same-origin, so the page is cross-origin isolated (SharedArrayBuffer, wasm threads);
// --no-isolation leaves those three headers out.
//
//   node server.mjs [--port 0] [--no-isolation] [--pkg DIR]
//
// Prints `listening on http://127.0.0.1:PORT/` once ready.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
};

/** An http.Server serving this folder at / and `pkgDir` at /pkg/. */
export function createServer({ isolation = true, pkgDir = path.join(REPO, 'pkg'), log = null } = {}) {
  const mounts = [
    ['/pkg/', path.resolve(pkgDir)],
    ['/', HERE],
  ];
  return http.createServer((req, res) => {
    const headers = { 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-cache' };
    if (isolation) {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
      headers['Cross-Origin-Resource-Policy'] = 'same-origin';
    }
    const reply = (code, text) => {
      if (log) log(`${code} ${req.method} ${req.url}`);
      res.writeHead(code, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(text);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'method not allowed');
    let urlPath;
    try {
      urlPath = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch (_) {
      return reply(400, 'bad path');
    }
    if (urlPath.includes('\0')) return reply(400, 'bad path');
    if (urlPath === '/pkg') urlPath = '/pkg/';
    const [prefix, dir] = mounts.find(([p]) => urlPath.startsWith(p));
    let file = path.resolve(dir, '.' + urlPath.slice(prefix.length - 1));
    if (file !== dir && !file.startsWith(dir + path.sep)) return reply(403, 'forbidden');
    let st;
    try {
      st = fs.statSync(file);
      if (st.isDirectory()) {
        file = path.join(file, 'index.html');
        st = fs.statSync(file);
      }
      const real = fs.realpathSync(file);
      const realDir = fs.realpathSync(dir);
      if (!real.startsWith(realDir + path.sep)) return reply(403, 'forbidden');
    } catch (_) {
      return reply(404, 'not found');
    }
    const type = TYPES[path.extname(file).toLowerCase()] || 'application/octet-stream';
    if (log) log(`200 ${req.method} ${req.url}`);
    res.writeHead(200, { ...headers, 'Content-Type': type, 'Content-Length': st.size });
    if (req.method === 'HEAD') return res.end();
    fs.createReadStream(file).pipe(res);
  });
}

/** Starts a server on 127.0.0.1 (port 0 = a free one); resolves {url, server, close()}. */
export function startServer({ port = 0, ...opts } = {}) {
  const server = createServer(opts);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${server.address().port}/`;
      resolve({
        url,
        server,
        close: () =>
          new Promise((r) => {
            server.closeAllConnections?.();
            server.close(() => r());
          }),
      });
    });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const get = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
  const { url, close } = await startServer({
    port: Number(get('--port', 0)),
    isolation: !args.includes('--no-isolation'),
    pkgDir: get('--pkg', path.join(REPO, 'pkg')),
  });
  console.log(`listening on ${url}`);
  const stop = () => close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
