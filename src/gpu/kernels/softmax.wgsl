// The forward head's probabilities as a label for the settling step (algorithm.md §12.1), one
// thread per row: y_hat = y_scale · softmax(logits + b), with `logits` = ẑ2·W (a gemm).

struct Params {
    rows: u32,
    classes: u32,
    y_scale: f32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y_hat: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row = gid.x;
    if row >= p.rows {
        return;
    }
    let base = row * p.classes;
    // the first logit starts the maximum (classes ≥ 1): no sentinel, which some WGSL compilers
    // (Chromium's Tint) refuse when its decimal rounds past the largest f32
    var m = logits[base] + bias[0];
    for (var c = 1u; c < p.classes; c++) {
        m = max(m, logits[base + c] + bias[c]);
    }
    var total = 0.0;
    for (var c = 0u; c < p.classes; c++) {
        total += exp(logits[base + c] + bias[c] - m);
    }
    for (var c = 0u; c < p.classes; c++) {
        y_hat[base + c] = p.y_scale * exp(logits[base + c] + bias[c] - m) / total;
    }
}
