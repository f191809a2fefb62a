// The non-finite guard (algorithm.md §9 steps 2 and 5): before an Adam update, if any row of the
// losses it comes from is NaN or infinite, record `code` in `flag`, unless an earlier step
// already did. The Adam kernel does nothing while the flag is set, so, as on the CPU, the
// updates before the bad step stay applied and none after it is made. The host reads the flag
// when it wants to know (4 bytes).
//
// WGSL has no isnan or isinf; a float is non-finite when its exponent bits are all ones.

struct Params {
    rows: u32,
    code: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> loss_a: array<f32>;
@group(0) @binding(2) var<storage, read> loss_b: array<f32>;
@group(0) @binding(3) var<storage, read> loss_c: array<f32>;
@group(0) @binding(4) var<storage, read_write> flag: array<u32>;

fn finite(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
    var bad = false;
    for (var i = lid.x; i < p.rows; i += 256u) {
        bad = bad || !finite(loss_a[i]) || !finite(loss_b[i]) || !finite(loss_c[i]);
    }
    // Every thread that saw one writes the same code; a flag set by an earlier step stays.
    if bad && flag[0] == 0u {
        flag[0] = p.code;
    }
}
