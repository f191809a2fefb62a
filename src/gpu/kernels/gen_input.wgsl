// The generator's view of a state (algorithm.md §8): out = nrm(relu(src + noise)), one
// workgroup per row (philox.wgsl is prepended). With the noise off it also makes
// u = nrm(relu(z_g)) from the top latent.

struct Params {
    rows: u32,
    cols: u32,
    noisy: u32,
    pad: u32,
    stream: Stream,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

const NORM_EPS: f32 = 1e-8;

fn relu(v: f32) -> f32 {
    return select(v, 0.0, v < 0.0);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row = wid.x;
    var acc = 0.0;
    for (var j = lid.x; j < p.cols; j += WG) {
        let o = row * p.cols + j;
        var a = src[o];
        if p.noisy != 0u {
            a += p.stream.scale * stream_normal(p.stream, o);
        }
        let v = relu(a);
        out[o] = v;
        acc += v * v;
    }
    let total = workgroup_sum(lid.x, acc);
    let d = sqrt(total) + NORM_EPS;
    for (var j = lid.x; j < p.cols; j += WG) {
        let o = row * p.cols + j;
        out[o] = out[o] / d;
    }
}
