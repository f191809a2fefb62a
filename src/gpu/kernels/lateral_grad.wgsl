// The gradient of a compact lateral matrix L (H×10; algorithm.md §7.2, src/lateral.rs):
//
//   dL[10g + r, c] = sign·Σ_i z_prev[i, 10g + r]·δ[i, 10g + c]  where L[10g + r, c] > 0, else 0
//   sign = +1 on the diagonal (r = c), −1 off it
//
// One thread per entry of dL, each summing over the batch.

struct Params {
    rows: u32, // N
    cols: u32, // H
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> zp: array<f32>;
@group(0) @binding(2) var<storage, read> delta: array<f32>;
@group(0) @binding(3) var<storage, read> lat: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;

const GROUP: u32 = 10u;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let e = gid.x;
    if e >= p.cols * GROUP {
        return;
    }
    let unit = e / GROUP;
    let c = e % GROUP;
    if !(lat[e] > 0.0) {
        grad[e] = 0.0;
        return;
    }
    let col = (unit / GROUP) * GROUP + c;
    var s = 0.0;
    for (var i = 0u; i < p.rows; i++) {
        s += zp[i * p.cols + unit] * delta[i * p.cols + col];
    }
    grad[e] = select(-s, s, unit % GROUP == c);
}
