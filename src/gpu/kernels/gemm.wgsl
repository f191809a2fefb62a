// C ← alpha·op(A)·op(B) + beta·C for row-major f32 matrices, op = identity or transpose.
//
// Tiling: each 16×16 workgroup computes a 64×64 block of C, each thread a 4×4 set of it (rows
// ty + 16i, columns tx + 16j: neighbouring threads write neighbouring columns). The k sum goes
// in steps of 16: the workgroup stages op(A)[64 rows, 16 k] and op(B)[16 k, 64 columns] in
// workgroup memory, each thread loading 4 values of each, then every thread reads its 4 + 4
// values per k from there. A thread does 16 multiply-adds per 8 workgroup-memory reads, and a
// workgroup 64·64·16 per 2·64·16 global reads: 32 multiply-adds (64 flops) per global f32 read,
// 16 flops per byte of global traffic (before any cache helps).
//
// Bounds: pff's sizes (784, 500, 2000, 1000, 10) are not multiples of 64, so every global read
// outside A or B loads 0 (which adds nothing to the sum) and every write outside C is skipped.
// Nothing is padded; the ragged last tiles cost a few idle threads.
//
// beta = 0 does not read C, so C may hold anything (NaN included) before an overwrite.

struct Params {
    m: u32,
    n: u32,
    k: u32,
    trans_a: u32,
    trans_b: u32,
    alpha: f32,
    beta: f32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

const BLOCK: u32 = 64u; // rows and columns of C per workgroup
const BK: u32 = 16u; // k values staged per step
const WG: u32 = 16u; // workgroup side
const STRIDE: u32 = 65u; // BLOCK + 1: the staging stores of one k row fall in different banks

var<workgroup> a_tile: array<f32, 1040>; // [BK][STRIDE]: a_tile[kk * STRIDE + row]
var<workgroup> b_tile: array<f32, 1040>; // [BK][STRIDE]: b_tile[kk * STRIDE + col]

// op(A)[row, kk], 0 outside. A is m×k, or k×m when transposed.
fn load_a(row: u32, kk: u32) -> f32 {
    if row >= p.m || kk >= p.k {
        return 0.0;
    }
    if p.trans_a != 0u {
        return a[kk * p.m + row];
    }
    return a[row * p.k + kk];
}

// op(B)[kk, col], 0 outside. B is k×n, or n×k when transposed.
fn load_b(kk: u32, col: u32) -> f32 {
    if kk >= p.k || col >= p.n {
        return 0.0;
    }
    if p.trans_b != 0u {
        return b[col * p.k + kk];
    }
    return b[kk * p.n + col];
}

// Stages op(A)[row0.., k0..] and op(B)[k0.., col0..]: 1024 values each, 4 per thread. The
// index split follows the stored layout, so that neighbouring threads read neighbouring words.
fn stage(t: u32, row0: u32, col0: u32, k0: u32) {
    for (var r = 0u; r < 4u; r++) {
        let idx = t + r * WG * WG;
        var row = idx / BK;
        var ka = idx % BK;
        if p.trans_a != 0u {
            row = idx % BLOCK;
            ka = idx / BLOCK;
        }
        a_tile[ka * STRIDE + row] = load_a(row0 + row, k0 + ka);
        var col = idx % BLOCK;
        var kb = idx / BLOCK;
        if p.trans_b != 0u {
            col = idx / BK;
            kb = idx % BK;
        }
        b_tile[kb * STRIDE + col] = load_b(k0 + kb, col0 + col);
    }
}

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let tx = lid.x;
    let ty = lid.y;
    let row0 = wid.y * BLOCK;
    let col0 = wid.x * BLOCK;
    var acc: array<f32, 16>;
    for (var k0 = 0u; k0 < p.k; k0 += BK) {
        stage(ty * WG + tx, row0, col0, k0);
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            var av: array<f32, 4>;
            var bv: array<f32, 4>;
            for (var i = 0u; i < 4u; i++) {
                av[i] = a_tile[kk * STRIDE + ty + i * WG];
                bv[i] = b_tile[kk * STRIDE + tx + i * WG];
            }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i * 4u + j] += av[i] * bv[j];
                }
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < 4u; i++) {
        let row = row0 + ty + i * WG;
        for (var j = 0u; j < 4u; j++) {
            let col = col0 + tx + j * WG;
            if row < p.m && col < p.n {
                let o = row * p.n + col;
                var v = p.alpha * acc[i * 4u + j];
                if p.beta != 0.0 {
                    v += p.beta * c[o];
                }
                c[o] = v;
            }
        }
    }
}
