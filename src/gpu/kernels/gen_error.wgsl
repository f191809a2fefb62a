// One prediction error of the generator (algorithm.md §8), one workgroup per row:
//
//   mode 0 (layers): e = relu(pred) − truth;           err = (2/N)·e;  loss_row = Σ e²
//   mode 1 (input):  d = clip01(pred) − truth (= x);   err = (2/N)·d where 0 ≤ pred ≤ 1, else 0;
//                    loss_row = Σ d²
//
// The batch's loss is Σ loss_row / N (taken where it is read).

struct Params {
    rows: u32,
    cols: u32,
    mode: u32,
    two_n: f32, // 2/N
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> pred: array<f32>;
@group(0) @binding(2) var<storage, read> truth: array<f32>;
@group(0) @binding(3) var<storage, read_write> err: array<f32>;
@group(0) @binding(4) var<storage, read_write> loss: array<f32>;


@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row = wid.x;
    var acc = 0.0;
    for (var j = lid.x; j < p.cols; j += WG) {
        let o = row * p.cols + j;
        let h = pred[o];
        if p.mode == 0u {
            let e = select(h, 0.0, h < 0.0) - truth[o];
            err[o] = e * p.two_n;
            acc += e * e;
        } else {
            let d = min(max(h, 0.0), 1.0) - truth[o];
            err[o] = select(0.0, d * p.two_n, h >= 0.0 && h <= 1.0);
            acc += d * d;
        }
    }
    let total = workgroup_sum(lid.x, acc);
    if lid.x == 0u {
        loss[row] = total;
    }
}
