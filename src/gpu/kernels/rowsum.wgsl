// The workgroup-wide row sum shared by the one-workgroup-per-row kernels (layer, nrm, gen_input,
// gen_error): prepended to their source by `kernel::with_rowsum`.

const WG: u32 = 256u;

var<workgroup> partial: array<f32, 256>;

// The sum of every thread's `v` in the workgroup (all threads must call it). The barrier after
// the read lets a kernel call it again without a thread overwriting `partial` early.
fn workgroup_sum(lid: u32, v: f32) -> f32 {
    partial[lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if lid < s {
            partial[lid] += partial[lid + s];
        }
        workgroupBarrier();
    }
    let total = partial[0];
    workgroupBarrier();
    return total;
}
