// Philox4x32-10 and the noise streams built on it: the WGSL twin of src/counter_rng.rs, which
// documents the addressing. This file holds functions only; kernels that draw noise are
// compiled with it prepended (WGSL has no include).
//
// WGSL has no 64-bit integers, so the 32×32 → 64-bit product is assembled from 16-bit halves.
// Everything up to the uniforms is integer arithmetic (or exact float arithmetic) and matches
// the CPU bit for bit; the normals use only + − × ÷ and sqrt in the CPU's order (no log, cos or
// sin), so they match it to within the GPU's rounding of ÷ and sqrt and any fused multiply-add.

const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u;
const PHILOX_W1: u32 = 0xBB67AE85u;

// One noise stream, as StreamKey::words lays it out: Philox's key, the counter's three fixed
// words (step << 8 | purpose, batch low, batch high), the element count and a scale.
struct Stream {
    k0: u32,
    k1: u32,
    c1: u32,
    c2: u32,
    c3: u32,
    n: u32,
    scale: f32,
    pad: u32,
}

// (high word, low word) of a·b.
fn mulhilo(a: u32, b: u32) -> vec2<u32> {
    let a_lo = a & 0xffffu;
    let a_hi = a >> 16u;
    let b_lo = b & 0xffffu;
    let b_hi = b >> 16u;
    let ll = a_lo * b_lo;
    let lh = a_lo * b_hi;
    let hl = a_hi * b_lo;
    let mid = (ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
    let hi = a_hi * b_hi + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
    return vec2<u32>(hi, a * b);
}

fn philox4x32_10(counter: vec4<u32>, key0: vec2<u32>) -> vec4<u32> {
    var ctr = counter;
    var key = key0;
    for (var round = 0u; round < 10u; round++) {
        if round > 0u {
            key = key + vec2<u32>(PHILOX_W0, PHILOX_W1);
        }
        let p0 = mulhilo(PHILOX_M0, ctr.x);
        let p1 = mulhilo(PHILOX_M1, ctr.z);
        ctr = vec4<u32>(p1.x ^ ctr.y ^ key.x, p1.y, p0.x ^ ctr.w ^ key.y, p0.y);
    }
    return ctr;
}

// The four words of block `block` (elements 4·block .. 4·block + 3) of a stream.
fn stream_block(s: Stream, block: u32) -> vec4<u32> {
    return philox4x32_10(vec4<u32>(block, s.c1, s.c2, s.c3), vec2<u32>(s.k0, s.k1));
}

// A uniform in (0, 1) from the top 23 bits: (2·(x >> 9) + 1)·2⁻²⁴, exact.
fn uniform_open(x: u32) -> f32 {
    return f32((x >> 9u) * 2u + 1u) * (1.0 / 16777216.0);
}

// ln u for u in (0, 1), to a few ulps everywhere, from + − × ÷ only (WGSL promises log only to
// 2⁻²¹ absolute on [0.5, 2], no relative accuracy near 1): u = m·2ᵉ with m in [√½, √2), then
// e·ln 2 + 2·atanh((m − 1)/(m + 1)) as its series by Horner's rule. The twin of
// counter_rng::ln_open, in the same order of operations.
fn ln_open(u: f32) -> f32 {
    let bits = bitcast<u32>(u);
    let high = (bits & 0x007fffffu) > 0x003504f3u;
    let e = f32(i32((bits >> 23u) & 0xffu) - 127 + select(0, 1, high));
    let m = bitcast<f32>((bits & 0x007fffffu) | select(0x3f800000u, 0x3f000000u, high));
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    var p = 1.0 / 13.0;
    p = 1.0 / 11.0 + s2 * p;
    p = 1.0 / 9.0 + s2 * p;
    p = 1.0 / 7.0 + s2 * p;
    p = 1.0 / 5.0 + s2 * p;
    p = 1.0 / 3.0 + s2 * p;
    p = 1.0 + s2 * p;
    return e * 0.69314575195312500 + (2.0 * s * p + e * 1.4286068e-6);
}

// (cos θ, sin θ) of θ = π·(2v − 1): t = 4v − 2 (exact), q = trunc(t + 2.5) − 2 its nearest
// integer, a = (t − q)·π/2, Taylor polynomials at a, then the quarter turn q. The twin of
// counter_rng::sin_cos_turn.
fn sin_cos_turn(v: f32) -> vec2<f32> {
    let t = 4.0 * v - 2.0;
    let q = i32(t + 2.5) - 2;
    let a = (t - f32(q)) * 1.57079632679489661923;
    let a2 = a * a;
    var ps = 1.0 / 362880.0;
    ps = -1.0 / 5040.0 + a2 * ps;
    ps = 1.0 / 120.0 + a2 * ps;
    ps = -1.0 / 6.0 + a2 * ps;
    var pc = -1.0 / 3628800.0;
    pc = 1.0 / 40320.0 + a2 * pc;
    pc = -1.0 / 720.0 + a2 * pc;
    pc = 1.0 / 24.0 + a2 * pc;
    pc = -0.5 + a2 * pc;
    let sin_a = a + a * (a2 * ps);
    let cos_a = 1.0 + a2 * pc;
    let quarter = q & 3;
    let odd = (quarter & 1) == 1;
    let x = select(cos_a, sin_a, odd);
    let y = select(sin_a, cos_a, odd);
    return vec2<f32>(select(x, -x, quarter == 1 || quarter == 2), select(y, -y, quarter >= 2));
}

// Box–Muller on one pair of words: r·cos θ when `odd` is false, r·sin θ when true.
fn box_muller(a: u32, b: u32, odd: bool) -> f32 {
    let r = sqrt(-2.0 * ln_open(uniform_open(a)));
    let cs = sin_cos_turn(uniform_open(b));
    return select(r * cs.x, r * cs.y, odd);
}

// The standard normal of element `e` of a stream (unscaled): lanes 0 and 1 of a block come from
// its words (x, y), lanes 2 and 3 from (z, w).
fn stream_normal(s: Stream, e: u32) -> f32 {
    let w = stream_block(s, e / 4u);
    let lane = e % 4u;
    if lane < 2u {
        return box_muller(w.x, w.y, lane == 1u);
    }
    return box_muller(w.z, w.w, lane == 3u);
}
