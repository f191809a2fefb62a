// The static file server shared by the browser tests and benchmarks (tests/e2e, tests/bench-tfjs):
// URL prefixes mapped to folders, the cross-origin isolation headers (COOP same-origin, COEP
// require-corp, CORP same-origin; left out with `isolation: false`), the MIME types the pages
// need, GET/HEAD only, no path traversal or symlink escape. Listens on 127.0.0.1 only.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.json': 'application/json',
  '.map': 'application/json',
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

/**
 * An http.Server. `mounts` is a list of [url prefix ending in '/', folder], most specific first;
 * it must end with a '/' mount. `log(line)` is called once per request when given.
 */
export function createServer({ mounts, isolation = true, log = null }) {
  const table = mounts.map(([prefix, dir]) => [prefix, path.resolve(dir)]);
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
    if (table.some(([p]) => p === urlPath + '/')) urlPath += '/';
    const [prefix, dir] = table.find(([p]) => urlPath.startsWith(p));
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
export function startServer({ port = 0, ...opts }) {
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

/** The command-line entry of a server script: --port N, --no-isolation; stops on SIGTERM/SIGINT. */
export async function serveFromCommandLine(args, mountsFor) {
  const get = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
  const { url, close } = await startServer({
    port: Number(get('--port', 0)),
    isolation: !args.includes('--no-isolation'),
    mounts: mountsFor(get),
  });
  console.log(`listening on ${url}`);
  const stop = () => close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
