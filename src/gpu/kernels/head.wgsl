// The head's loss and error signal (algorithm.md §5, §7.1), one thread per row; `logits` holds
// ẑ2p·W (a gemm) and gets b added here:
//
//   logp = log_softmax(logits + b)
//   δ3_c = (y_scale·lab/Npos)·((Σ_c′ y_c′)·exp(logp_c) − y_c),  0 for negatives
//   loss_row = −y_scale·lab·Σ_c y_c·logp_c   (the batch's loss is Σ loss_row / Npos)
//
// Npos, the number of positive rows, is known when the batch is made and comes as a parameter.

struct Params {
    rows: u32,
    classes: u32,
    y_scale: f32,
    npos: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> y: array<f32>;
@group(0) @binding(4) var<storage, read> positive: array<f32>;
@group(0) @binding(5) var<storage, read_write> delta: array<f32>;
@group(0) @binding(6) var<storage, read_write> loss: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row = gid.x;
    if row >= p.rows {
        return;
    }
    let base = row * p.classes;
    let lab = positive[row];
    if lab == 0.0 || p.npos == 0.0 {
        for (var c = 0u; c < p.classes; c++) {
            delta[base + c] = 0.0;
        }
        loss[row] = 0.0;
        return;
    }
    // the first logit starts the maximum (classes ≥ 1): no sentinel, which some WGSL compilers
    // (Chromium's Tint) refuse when its decimal rounds past the largest f32
    var m = logits[base] + bias[0];
    for (var c = 1u; c < p.classes; c++) {
        m = max(m, logits[base + c] + bias[c]);
    }
    var total = 0.0;
    var ysum = 0.0;
    for (var c = 0u; c < p.classes; c++) {
        total += exp(logits[base + c] + bias[c] - m);
        ysum += y[base + c];
    }
    let lse = log(total) + m;
    let k = p.y_scale * lab / p.npos;
    var l = 0.0;
    for (var c = 0u; c < p.classes; c++) {
        let logp = logits[base + c] + bias[c] - lse;
        delta[base + c] = k * (ysum * exp(logp) - y[base + c]);
        l -= lab * p.y_scale * y[base + c] * logp;
    }
    loss[row] = l;
}
