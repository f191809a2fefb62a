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

const WG: u32 = 256u;
const NORM_EPS: f32 = 1e-8;

var<workgroup> partial: array<f32, 256>;

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
    partial[lid.x] = acc;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if lid.x < s {
            partial[lid.x] += partial[lid.x + s];
        }
        workgroupBarrier();
    }
    let d = sqrt(partial[0]) + NORM_EPS;
    for (var j = lid.x; j < p.cols; j += WG) {
        let o = row * p.cols + j;
        out[o] = out[o] / d;
    }
}
