// y = act(x · Wᵀ + bias) + residual, x [m, k] and y [m, n] row-major, f32
// accumulation. W is either Q8_0 as stored (the int8 values four to a word,
// one f32 scale per 32 of a row, dequantised while the tile is loaded) or
// f32 (the convolution stem's weights). Each workgroup computes a 64 × 64
// tile of y through 32-wide slices of k kept in workgroup memory; each of its
// 256 invocations a 4 × 4 block.

struct Params {
    m: u32,
    n: u32,
    k: u32,
    // 0: none, 1: the exact (erf) GELU, 2: CLIP's quick GELU
    act: u32,
    has_bias: u32,
    has_residual: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// Q8_0: [n, k / 4] words, byte i of a word is value 4·word + i.
@group(0) @binding(2) var<storage, read> wq: array<u32>;
// Q8_0: [n, k / 32] scales.
@group(0) @binding(3) var<storage, read> wscale: array<f32>;
// f32: [n, k].
@group(0) @binding(4) var<storage, read> wf: array<f32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read> residual: array<f32>;
@group(0) @binding(7) var<storage, read_write> y: array<f32>;

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 32u;

// [BK][BM / 4] and [BK][BN / 4]: at each k, an invocation's 4 rows of x and
// 4 columns of W are one vec4 each.
var<workgroup> xs: array<vec4<f32>, 512>;
var<workgroup> ws: array<vec4<f32>, 512>;

// erf by Abramowitz & Stegun 7.1.26 (absolute error ≤ 1.5e-7), as the CPU
// kernels compute it.
fn erf(v: f32) -> f32 {
    let a = abs(v);
    let t = 1.0 / (1.0 + 0.3275911 * a);
    let poly = t * (0.2548296 + t * (-0.28449674 + t * (1.4214137 + t * (-1.4531521 + t * 1.0614054))));
    let r = 1.0 - poly * exp(-a * a);
    return select(r, -r, v < 0.0);
}

fn activate(v: f32) -> f32 {
    if (p.act == 1u) {
        return 0.5 * v * (1.0 + erf(v * 0.70710677));
    }
    if (p.act == 2u) {
        // x · sigmoid(1.702 x); for large negative x the exp overflows to
        // infinity and the quotient is 0, as the limit.
        return v / (1.0 + exp(-1.702 * v));
    }
    return v;
}

// x[row, k], zero outside x.
fn x_at(row: u32, k: u32) -> f32 {
    if (row < p.m && k < p.k) {
        return x[row * p.k + k];
    }
    return 0.0;
}

// The tile's 64 rows × 32 k of x: 512 vec4s, two per invocation; adjacent
// invocations read adjacent k.
fn load_x(li: u32, m0: u32, k0: u32) {
    for (var e = 0u; e < 2u; e++) {
        let idx = li + e * 256u;
        let c = idx % BK;
        let r = m0 + (idx / BK) * 4u;
        xs[c * (BM / 4u) + idx / BK] = vec4<f32>(x_at(r, k0 + c), x_at(r + 1u, k0 + c), x_at(r + 2u, k0 + c), x_at(r + 3u, k0 + c));
    }
}

fn multiply_tile(lx: u32, ly: u32, acc: ptr<function, array<vec4<f32>, 4>>) {
    for (var kk = 0u; kk < BK; kk++) {
        let a = xs[kk * (BM / 4u) + ly];
        let b = ws[kk * (BN / 4u) + lx];
        (*acc)[0] += a.x * b;
        (*acc)[1] += a.y * b;
        (*acc)[2] += a.z * b;
        (*acc)[3] += a.w * b;
    }
}

fn store(lx: u32, ly: u32, m0: u32, n0: u32, acc: array<vec4<f32>, 4>) {
    for (var i = 0u; i < 4u; i++) {
        let row = m0 + ly * 4u + i;
        if (row >= p.m) {
            return;
        }
        for (var j = 0u; j < 4u; j++) {
            let col = n0 + lx * 4u + j;
            if (col < p.n) {
                var v = acc[i][j];
                if (p.has_bias == 1u) {
                    v += bias[col];
                }
                v = activate(v);
                if (p.has_residual == 1u) {
                    v += residual[row * p.n + col];
                }
                y[row * p.n + col] = v;
            }
        }
    }
}

// Word `word` (4 values) of W's row `row` as signed integers, zero outside W.
fn q8_word(row: u32, word: u32, words: u32) -> vec4<f32> {
    if (row >= p.n) {
        return vec4<f32>(0.0);
    }
    let w = wq[row * words + word];
    let q = vec4<i32>(
        bitcast<i32>(w << 24u) >> 24u,
        bitcast<i32>(w << 16u) >> 24u,
        bitcast<i32>(w << 8u) >> 24u,
        bitcast<i32>(w) >> 24u,
    );
    return vec4<f32>(q) * wscale[row * (p.k / 32u) + word / 8u];
}

@compute @workgroup_size(16, 16)
fn matmul_q8(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let m0 = wg.y * BM;
    let n0 = wg.x * BN;
    let words = p.k / 4u;
    var acc: array<vec4<f32>, 4>;
    for (var k0 = 0u; k0 < p.k; k0 += BK) {
        load_x(li, m0, k0);
        // 16 groups of 4 rows × 8 words: each of the first 128 invocations
        // turns one word of 4 rows into 4 vec4s (one per k).
        if (li < 128u) {
            let g = li / 8u;
            let wd = li % 8u;
            let r = n0 + g * 4u;
            let word = k0 / 4u + wd;
            let w0 = q8_word(r, word, words);
            let w1 = q8_word(r + 1u, word, words);
            let w2 = q8_word(r + 2u, word, words);
            let w3 = q8_word(r + 3u, word, words);
            let at = wd * 4u * (BN / 4u) + g;
            ws[at] = vec4<f32>(w0.x, w1.x, w2.x, w3.x);
            ws[at + BN / 4u] = vec4<f32>(w0.y, w1.y, w2.y, w3.y);
            ws[at + 2u * (BN / 4u)] = vec4<f32>(w0.z, w1.z, w2.z, w3.z);
            ws[at + 3u * (BN / 4u)] = vec4<f32>(w0.w, w1.w, w2.w, w3.w);
        }
        workgroupBarrier();
        multiply_tile(lid.x, lid.y, &acc);
        workgroupBarrier();
    }
    store(lid.x, lid.y, m0, n0, acc);
}

// W[row, k] of an f32 matrix, zero outside W.
fn wf_at(row: u32, k: u32) -> f32 {
    if (row < p.n && k < p.k) {
        return wf[row * p.k + k];
    }
    return 0.0;
}

@compute @workgroup_size(16, 16)
fn matmul_f32(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let m0 = wg.y * BM;
    let n0 = wg.x * BN;
    var acc: array<vec4<f32>, 4>;
    for (var k0 = 0u; k0 < p.k; k0 += BK) {
        load_x(li, m0, k0);
        for (var e = 0u; e < 2u; e++) {
            let idx = li + e * 256u;
            let c = idx % BK;
            let r = n0 + (idx / BK) * 4u;
            ws[c * (BN / 4u) + idx / BK] = vec4<f32>(wf_at(r, k0 + c), wf_at(r + 1u, k0 + c), wf_at(r + 2u, k0 + c), wf_at(r + 3u, k0 + c));
        }
        workgroupBarrier();
        multiply_tile(lid.x, lid.y, &acc);
        workgroupBarrier();
    }
    store(lid.x, lid.y, m0, n0, acc);
}
