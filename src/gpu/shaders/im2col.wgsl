// The convolution stem's input as a matrix: a kernel-3, padding-1
// convolution of x [t_in, c] with stride s is the product of
// col [t_out, c·3] (col[o, 3ci + j] = x[o·s + j − 1, ci], zero outside x)
// with the weights [out, c, 3] read as [out, c·3].

struct Params {
    t_in: u32,
    t_out: u32,
    c: u32,
    stride: u32,
    // invocations per dispatch line (the grid is 2-D for large inputs)
    per_line: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> col: array<f32>;

@compute @workgroup_size(256)
fn im2col(@builtin(global_invocation_id) gid: vec3<u32>) {
    let idx = gid.y * p.per_line + gid.x;
    let width = p.c * 3u;
    if (idx >= p.t_out * width) {
        return;
    }
    let o = idx / width;
    let ci = (idx % width) / 3u;
    let j = idx % 3u;
    let src = i32(o * p.stride + j) - 1;
    var v = 0.0;
    if (src >= 0 && u32(src) < p.t_in) {
        v = x[u32(src) * p.c + ci];
    }
    col[idx] = v;
}
