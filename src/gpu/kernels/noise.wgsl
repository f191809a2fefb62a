// Fills a buffer from one noise stream (philox.wgsl is prepended): the raw words (`bits`), or
// N(0, scale²) draws (`normals`, stored as their bits). One thread per Philox block of 4.

@group(0) @binding(0) var<uniform> s: Stream;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(256)
fn bits(@builtin(global_invocation_id) gid: vec3<u32>) {
    let block = gid.x;
    let w = stream_block(s, block);
    for (var lane = 0u; lane < 4u; lane++) {
        let e = block * 4u + lane;
        if e < s.n {
            out[e] = w[lane];
        }
    }
}

@compute @workgroup_size(256)
fn normals(@builtin(global_invocation_id) gid: vec3<u32>) {
    let block = gid.x;
    for (var lane = 0u; lane < 4u; lane++) {
        let e = block * 4u + lane;
        if e < s.n {
            out[e] = bitcast<u32>(s.scale * stream_normal(s, e));
        }
    }
}
