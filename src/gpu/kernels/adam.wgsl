// One Adam step in TensorFlow's form on one tensor (algorithm.md §9, train::Adam::step):
//
//   g = clamp(grad, −clip, clip)
//   m += (g − m)(1 − β1);  v += (g² − v)(1 − β2)
//   θ −= lr_t · m / (√v + ε),   lr_t = η·√(1 − β2ᵗ)/(1 − β1ᵗ) computed on the host
//
// One thread per element. Nothing happens while the non-finite guard's flag is set (guard.wgsl).

struct Params {
    len: u32,
    lr_t: f32,
    b1c: f32, // 1 − β1
    b2c: f32, // 1 − β2
    eps: f32,
    clip: f32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> theta: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read> flag: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * 256u;
    if i >= p.len || flag[0] != 0u {
        return;
    }
    let g = clamp(grad[i], -p.clip, p.clip);
    let mi = m[i] + (g - m[i]) * p.b1c;
    let vi = v[i] + (g * g - v[i]) * p.b2c;
    m[i] = mi;
    v[i] = vi;
    theta[i] = theta[i] - p.lr_t * mi / (sqrt(vi) + p.eps);
}
