// The goodness classifier's running score (algorithm.md §11.1): score −= ½·(Σz1² + Σz2²) for
// every row, at each step of the window. One thread per row.

struct Params {
    rows: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> sq1: array<f32>;
@group(0) @binding(2) var<storage, read> sq2: array<f32>;
@group(0) @binding(3) var<storage, read_write> score: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    if r < p.rows {
        score[r] = score[r] - 0.5 * (sq1[r] + sq2[r]);
    }
}
