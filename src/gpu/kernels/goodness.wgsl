// A layer's goodness loss and error signal (algorithm.md §5, §7.1), one workgroup per row:
//
//   ℓ = thr − Σ_j z_j²        (Σz² comes from the layer kernel)
//   loss_row = softplus(ℓ) − lab·ℓ
//   δ_j = c·z_j,  c = −(2(1−α)/N)·(σ(ℓ) − lab)
//
// The batch mean of the loss is the sum of loss_row over N (taken where it is read).

struct Params {
    rows: u32,
    cols: u32,
    threshold: f32,
    scale: f32, // −2(1−α)/N
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> sq: array<f32>;
@group(0) @binding(3) var<storage, read> positive: array<f32>;
@group(0) @binding(4) var<storage, read_write> delta: array<f32>;
@group(0) @binding(5) var<storage, read_write> loss: array<f32>;

const WG: u32 = 256u;

// Stable for large |v|, as ops::sigmoid.
fn sigmoid(v: f32) -> f32 {
    if v >= 0.0 {
        return 1.0 / (1.0 + exp(-v));
    }
    let e = exp(v);
    return e / (1.0 + e);
}

// max(v, 0) + log(1 + e^−|v|), as ops::softplus.
fn softplus(v: f32) -> f32 {
    return max(v, 0.0) + log(1.0 + exp(-abs(v)));
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row = wid.x;
    let l = p.threshold - sq[row];
    let lab = positive[row];
    let c = p.scale * (sigmoid(l) - lab);
    for (var j = lid.x; j < p.cols; j += WG) {
        let o = row * p.cols + j;
        delta[o] = c * z[o];
    }
    if lid.x == 0u {
        loss[row] = softplus(l) - lab * l;
    }
}
