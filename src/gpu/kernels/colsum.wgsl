// out[j] = Σ_i a[i, j]: a bias gradient from its layer's error signal (algorithm.md §7.2). One
// thread per column, so neighbouring threads read neighbouring words of each row.

struct Params {
    rows: u32,
    cols: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    if j >= p.cols {
        return;
    }
    var s = 0.0;
    for (var i = 0u; i < p.rows; i++) {
        s += a[i * p.cols + j];
    }
    out[j] = s;
}
