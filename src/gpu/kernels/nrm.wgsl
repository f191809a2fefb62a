// Row normalisation (algorithm.md §2.1), one workgroup per row: dst = src / (‖src‖ + 1e-8) and
// sq = Σ_j src_j². The settling step's layer kernel does this itself for the states it makes;
// this kernel serves states that come from elsewhere (the start of a batch).

struct Params {
    rows: u32,
    cols: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read_write> sq: array<f32>;

const NORM_EPS: f32 = 1e-8;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row = wid.x;
    var acc = 0.0;
    for (var j = lid.x; j < p.cols; j += WG) {
        let v = src[row * p.cols + j];
        acc += v * v;
    }
    let total = workgroup_sum(lid.x, acc);
    let d = sqrt(total) + NORM_EPS;
    for (var j = lid.x; j < p.cols; j += WG) {
        let o = row * p.cols + j;
        dst[o] = src[o] / d;
    }
    if lid.x == 0u {
        sq[row] = total;
    }
}
