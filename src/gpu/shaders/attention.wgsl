// Multi-head self-attention without a mask over one sequence: for each head
// h and query i, ctx[i, h] = Σⱼ softmaxⱼ(scale · qᵢ·kⱼ) vⱼ. q, k and v are
// the three parts of a fused projection's rows, qkv [t, 3d]; ctx is [t, d].
// Several sequences of t positions each, one after the other in qkv and ctx,
// are attended to apart (the grid's z).
// A workgroup takes 64 queries of one head and streams the keys and values
// through workgroup memory 32 at a time, with the running maximum and sum of
// a stable (online) softmax.

struct Params {
    t: u32,
    // d / 4: the model width in vec4s
    d4: u32,
    scale: f32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qkv: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> ctx: array<vec4<f32>>;

// The head width in vec4s; the pipeline is built per head width.
const HV: u32 = {HV}u;
const BQ: u32 = 64u;
const BKEYS: u32 = 32u;

var<workgroup> ks: array<vec4<f32>, BKEYS * HV>;
var<workgroup> vs: array<vec4<f32>, BKEYS * HV>;

@compute @workgroup_size(64)
fn attention(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let h = wg.y;
    let i = wg.x * BQ + li;
    let stride = 3u * p.d4;
    // The sequence's first row in qkv and in ctx.
    let q0 = wg.z * p.t * stride;
    let c0 = wg.z * p.t * p.d4;
    var q: array<vec4<f32>, HV>;
    var acc: array<vec4<f32>, HV>;
    if (i < p.t) {
        for (var c = 0u; c < HV; c++) {
            q[c] = qkv[q0 + i * stride + h * HV + c] * p.scale;
        }
    }
    var m = -3.0e38;
    var l = 0.0;
    var s: array<f32, BKEYS>;
    for (var k0 = 0u; k0 < p.t; k0 += BKEYS) {
        for (var idx = li; idx < BKEYS * HV; idx += BQ) {
            let j = idx / HV;
            let c = idx % HV;
            var kv = vec4<f32>(0.0);
            var vv = vec4<f32>(0.0);
            if (k0 + j < p.t) {
                let at = q0 + (k0 + j) * stride + h * HV + c;
                kv = qkv[at + p.d4];
                vv = qkv[at + 2u * p.d4];
            }
            ks[idx] = kv;
            vs[idx] = vv;
        }
        workgroupBarrier();
        let nk = min(BKEYS, p.t - k0);
        var block_max = m;
        for (var j = 0u; j < nk; j++) {
            var dot_qk = 0.0;
            for (var c = 0u; c < HV; c++) {
                dot_qk += dot(q[c], ks[j * HV + c]);
            }
            s[j] = dot_qk;
            block_max = max(block_max, dot_qk);
        }
        let correction = exp(m - block_max);
        l *= correction;
        for (var c = 0u; c < HV; c++) {
            acc[c] *= correction;
        }
        for (var j = 0u; j < nk; j++) {
            let pj = exp(s[j] - block_max);
            l += pj;
            for (var c = 0u; c < HV; c++) {
                acc[c] += pj * vs[j * HV + c];
            }
        }
        m = block_max;
        workgroupBarrier();
    }
    if (i < p.t) {
        for (var c = 0u; c < HV; c++) {
            ctx[c0 + i * p.d4 + h * HV + c] = acc[c] / l;
        }
    }
}
