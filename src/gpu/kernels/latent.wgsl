// The top latent's step (algorithm.md §8.2, model::latent_step), one workgroup per row:
//
//   r = relu(z_g), ν = ‖r‖, Dn = ν + 1e-8
//   d_z = gu/Dn − [(gu·r)/(Dn²·ν)]·r     (the bracket 0 when ν = 0)
//   z_g ← z_g − β·d_z
//
// Every thread reads the whole row in the reductions before any thread writes z_g.

struct Params {
    rows: u32,
    cols: u32,
    beta: f32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> z: array<f32>;
@group(0) @binding(2) var<storage, read> gu: array<f32>;
@group(0) @binding(3) var<storage, read_write> d_z: array<f32>;

const WG: u32 = 256u;
const NORM_EPS: f32 = 1e-8;

var<workgroup> rr: array<f32, 256>;
var<workgroup> gr: array<f32, 256>;

fn relu(v: f32) -> f32 {
    return select(v, 0.0, v < 0.0);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row = wid.x;
    var acc_rr = 0.0;
    var acc_gr = 0.0;
    for (var j = lid.x; j < p.cols; j += WG) {
        let o = row * p.cols + j;
        let r = relu(z[o]);
        acc_rr += r * r;
        acc_gr += gu[o] * r;
    }
    rr[lid.x] = acc_rr;
    gr[lid.x] = acc_gr;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if lid.x < s {
            rr[lid.x] += rr[lid.x + s];
            gr[lid.x] += gr[lid.x + s];
        }
        workgroupBarrier();
    }
    let nu = sqrt(rr[0]);
    let dn = nu + NORM_EPS;
    var bracket = 0.0;
    if nu > 0.0 {
        bracket = gr[0] / (dn * dn * nu);
    }
    for (var j = lid.x; j < p.cols; j += WG) {
        let o = row * p.cols + j;
        let r = relu(z[o]);
        let d = gu[o] / dn - bracket * r;
        d_z[o] = d;
        z[o] = z[o] - p.beta * d;
    }
}
