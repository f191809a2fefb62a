// A dataset of its own, served plainly: drawn shapes written as IDX files, and Python's static
// server (the bundle tests, bundle.mjs and bundle-train.mjs).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** A deterministic generator in [0, 1). */
export function lcg(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** One 28×28 image of shape `label`, jittered in place, size and stroke. */
export function shape(label, rand) {
  const img = new Uint8Array(784);
  const cx = 14 + (rand() - 0.5) * 6;
  const cy = 14 + (rand() - 0.5) * 6;
  const r = 6 + rand() * 4;
  const w = 1 + rand() * 1.5;
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const dx = x - cx;
      const dy = y - cy;
      const d = [
        Math.abs(dy) <= w && Math.abs(dx) <= r ? 0 : 9, // bar
        Math.abs(dx) <= w && Math.abs(dy) <= r ? 0 : 9, // pole
        Math.abs(Math.hypot(dx, dy) - r) - w, // ring
        Math.max(Math.abs(dx), Math.abs(dy)) <= r ? Math.min(Math.abs(dx - dy), Math.abs(dx + dy)) / Math.SQRT2 - w : 9, // cross
      ][label];
      if (d <= 0) img[y * 28 + x] = 200 + Math.floor(rand() * 55);
    }
  }
  return img;
}

/** Writes the four standard IDX files of `n` training and `m` test images of the first `classes` shapes. */
export function writeIdx(dir, n, m, classes) {
  fs.mkdirSync(dir, { recursive: true });
  const rand = lcg(7);
  const write = (images, labels, prefix) => {
    const head = (magic, dims) => {
      const b = Buffer.alloc(4 + 4 * dims.length);
      b.writeUInt32BE(magic, 0);
      dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
      return b;
    };
    fs.writeFileSync(
      path.join(dir, `${prefix}-images-idx3-ubyte`),
      Buffer.concat([head(0x803, [images.length, 28, 28]), ...images.map((i) => Buffer.from(i))]),
    );
    fs.writeFileSync(path.join(dir, `${prefix}-labels-idx1-ubyte`), Buffer.concat([head(0x801, [labels.length]), Buffer.from(labels)]));
  };
  for (const [prefix, count] of [
    ['train', n],
    ['t10k', m],
  ]) {
    const labels = Array.from({ length: count }, (_, i) => i % classes);
    write(
      labels.map((l) => shape(l, rand)),
      labels,
      prefix,
    );
  }
}

/** `python3 -m http.server` on a free port of 127.0.0.1: a static host that sets no headers. */
export async function plainServer(dir) {
  const child = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`python3 -m http.server did not start: ${out}`)), 15000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /port (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${m[1]}/`);
      }
    });
    child.once('exit', (code) => reject(new Error(`python3 -m http.server exited (${code}): ${out}`)));
  });
  const log = []; // one line per request
  child.stderr.on('data', (d) =>
    log.push(
      ...String(d)
        .split('\n')
        .filter((l) => /"GET /.test(l)),
    ),
  );
  return { url, log, stop: () => child.kill('SIGTERM') };
}
