// The element-wise half of one layer's settling step (algorithm.md §4), fused, for one row of
// the batch per workgroup (philox.wgsl is prepended):
//
//   a  = prod + b − z_prev·Leff + noise        prod = bottom·W + top·V, from two gemm dispatches
//   z  = (1−α)·relu(a) + α·z_prev
//   ẑ  = z / (‖z‖ + 1e-8)                       what the layers above and below read next step
//   sq = Σ_j z_j²                               the row's goodness, for the losses (§5)
//
// One workgroup per row lets the row's norm and goodness come out of the same pass that makes
// z, so a settling step needs no separate normalisation dispatch.
//
// The lateral term uses the compact L (H×10, src/lateral.rs): for unit j in group g, column
// c = j mod 10, Σ_r z_prev[10g + r]·Leff[10g + r, c] with Leff = relu(L), negated on r = c.
// The noise, when on, is element (row·H + j) of the layer's Philox stream times its std.

struct LayerParams {
    rows: u32,
    cols: u32,
    alpha: f32,
    noisy: u32,
    stream: Stream,
}

@group(0) @binding(0) var<uniform> p: LayerParams;
@group(0) @binding(1) var<storage, read> prod: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> lat: array<f32>;
@group(0) @binding(4) var<storage, read> zp: array<f32>;
@group(0) @binding(5) var<storage, read_write> z: array<f32>;
@group(0) @binding(6) var<storage, read_write> z_hat: array<f32>;
@group(0) @binding(7) var<storage, read_write> sq: array<f32>;

const GROUP: u32 = 10u;
const NORM_EPS: f32 = 1e-8;

// max(v, 0) that lets NaN through, as ops::relu does (WGSL's max leaves NaN undefined).
fn relu(v: f32) -> f32 {
    return select(v, 0.0, v < 0.0);
}

// z_prev[row, group of j] · Leff[group of j, j mod 10].
fn lateral(row: u32, j: u32) -> f32 {
    let g0 = (j / GROUP) * GROUP;
    let c = j % GROUP;
    var s = 0.0;
    for (var r = 0u; r < GROUP; r++) {
        let l = relu(lat[(g0 + r) * GROUP + c]);
        s += zp[row * p.cols + g0 + r] * select(l, -l, r == c);
    }
    return s;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row = wid.x;
    let keep = 1.0 - p.alpha;
    var acc = 0.0;
    for (var j = lid.x; j < p.cols; j += WG) {
        let o = row * p.cols + j;
        var a = prod[o] + bias[j] - lateral(row, j);
        if p.noisy != 0u {
            a += p.stream.scale * stream_normal(p.stream, o);
        }
        let v = keep * relu(a) + p.alpha * zp[o];
        z[o] = v;
        acc += v * v;
    }
    let total = workgroup_sum(lid.x, acc);
    let d = sqrt(total) + NORM_EPS;
    for (var j = lid.x; j < p.cols; j += WG) {
        let o = row * p.cols + j;
        z_hat[o] = z[o] / d;
    }
    if lid.x == 0u {
        sq[row] = total;
    }
}
