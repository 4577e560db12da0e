// LayerNorm of each row of x [rows, n] into y: the mean, then the variance
// about it (two passes, as the CPU kernel), one workgroup per row.

struct Params {
    rows: u32,
    n: u32,
    eps: f32,
    // rows per dispatch line (the grid is 2-D past 65,535 rows)
    per_line: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

var<workgroup> partial: array<f32, 64>;

fn row_sum(li: u32, v: f32) -> f32 {
    partial[li] = v;
    workgroupBarrier();
    for (var width = 32u; width > 0u; width >>= 1u) {
        if (li < width) {
            partial[li] += partial[li + width];
        }
        workgroupBarrier();
    }
    let total = partial[0];
    workgroupBarrier();
    return total;
}

@compute @workgroup_size(64)
fn layer_norm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let row = wg.y * p.per_line + wg.x;
    if (row >= p.rows) {
        return;
    }
    let base = row * p.n;
    var s = 0.0;
    for (var i = li; i < p.n; i += 64u) {
        s += x[base + i];
    }
    let mean = row_sum(li, s) / f32(p.n);
    var q = 0.0;
    for (var i = li; i < p.n; i += 64u) {
        let d = x[base + i] - mean;
        q += d * d;
    }
    let inv = 1.0 / sqrt(row_sum(li, q) / f32(p.n) + p.eps);
    for (var i = li; i < p.n; i += 64u) {
        y[base + i] = (x[base + i] - mean) * inv * gamma[i] + beta[i];
    }
}
