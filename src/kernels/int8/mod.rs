//! Integer matmul for Q4_0/Q8_0 weights, one kernel family for every CPU the
//! product runs on: x86-64 (AVX-512 VNNI, AVX2), aarch64 (NEON with or
//! without `sdot`), WebAssembly (relaxed SIMD, plain SIMD128) and portable
//! Rust. The path is chosen once at run time ([`path`]); natively
//! `CREATIVE_FILTER_KERNEL=avx512vnni|avx2|neon-dotprod|neon|portable`
//! forces one (CI runs the AVX2 path on AVX-512 machines that way).
//!
//! candle's generic quantized matmul computes one block dot product per
//! (token, output) pair, and its repacked kernels need the input width to be
//! a multiple of 256 (e5-small's is 384). Encoding a batch of a few thousand
//! tokens is compute-bound, so this kernel keeps the weights as int8 once,
//! quantizes the activations per 32-value block (as ggml's Q8_0) and runs
//! 4-byte integer dot products with many output rows per register.
//!
//! Weight layout, shared by every path: rows in groups of 16; for each
//! (group, block) 8 steps of 64 bytes, step s holding bytes 4s..4s+4 of the
//! block for each of the 16 rows. A 4-byte broadcast of activations times
//! one step advances 16 rows (AVX-512: one register; AVX2: two; NEON and
//! wasm: four) by 4 values. The weights stay exactly the Q4_0/Q8_0 values.
//!
//! Every path computes the same numbers bit for bit: the activations are
//! quantized identically (scale amax/127, round half to even), each block's
//! integer dot product is exact in i32, and the block results are summed
//! in f32 in the same order with the same roundings — `acc + dot·(dw·da)`,
//! a separate multiply and add (no FMA, which wasm does not have). Only the
//! epilogue's activation function may differ in the last bits between
//! paths (AVX-512 applies its own vectorised GELU).

use candle_core::quantized::{GgmlDType, QTensor};

use crate::kernels::math::Act;

#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm;
#[cfg(target_arch = "x86_64")]
mod x86;

const QK: usize = 32;
/// Output rows per group (one AVX-512 register of i32).
const LANES: usize = 16;
/// 4-byte steps per block.
const STEPS: usize = QK / 4;

/// One way of running the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// `vpdpbusd` on 16 rows per register.
    Avx512Vnni,
    /// `vpmaddubsw` + `vpmaddwd` with the sign trick, 8 rows per register.
    Avx2,
    /// `sdot` (ARMv8.2 dot product), 4 rows per register.
    NeonDot,
    /// `smull` + `sadalp`, 4 rows per register.
    Neon,
    /// `i32x4.relaxed_dot_i8x16_i7x16_add`, 4 rows per register.
    WasmRelaxed,
    /// `i32x4.dot_i16x8_s` on widened bytes, 4 rows per register.
    WasmSimd128,
    /// Plain Rust, for every other target (and the tests' reference).
    Portable,
}

impl Path {
    /// Fastest first.
    pub const ALL: [Path; 7] =
        [Path::Avx512Vnni, Path::Avx2, Path::NeonDot, Path::Neon, Path::WasmRelaxed, Path::WasmSimd128, Path::Portable];

    pub fn name(self) -> &'static str {
        match self {
            Path::Avx512Vnni => "avx512vnni",
            Path::Avx2 => "avx2",
            Path::NeonDot => "neon-dotprod",
            Path::Neon => "neon",
            Path::WasmRelaxed => "wasm-relaxed-simd",
            Path::WasmSimd128 => "wasm-simd128",
            Path::Portable => "portable",
        }
    }

    pub fn from_name(name: &str) -> Option<Path> {
        Path::ALL.into_iter().find(|p| p.name() == name.trim())
    }

    /// Whether this machine (or, in wasm, this build) can run the path.
    pub fn supported(self) -> bool {
        match self {
            Path::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Path::Avx512Vnni => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vnni")
            }
            #[cfg(target_arch = "x86_64")]
            Path::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "aarch64")]
            Path::NeonDot => std::arch::is_aarch64_feature_detected!("dotprod"),
            #[cfg(target_arch = "aarch64")]
            Path::Neon => true,
            // A wasm module cannot test for instructions at run time (an
            // unknown one fails validation), so the build decides.
            #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
            Path::WasmRelaxed => true,
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Path::WasmSimd128 => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }
}

/// The path this process uses (chosen once): the fastest supported one,
/// unless `CREATIVE_FILTER_KERNEL` names another supported one.
pub fn path() -> Path {
    static PATH: std::sync::OnceLock<Path> = std::sync::OnceLock::new();
    *PATH.get_or_init(|| {
        #[cfg(not(target_arch = "wasm32"))]
        if let Ok(name) = std::env::var("CREATIVE_FILTER_KERNEL") {
            match Path::from_name(&name) {
                Some(p) if p.supported() => return p,
                Some(p) => eprintln!("CREATIVE_FILTER_KERNEL={name}: this CPU cannot run {}; using the fastest path", p.name()),
                None => eprintln!(
                    "CREATIVE_FILTER_KERNEL={name}: not a kernel path (one of {}); using the fastest path",
                    Path::ALL.map(Path::name).join(", ")
                ),
            }
        }
        Path::ALL.into_iter().find(|p| p.supported()).unwrap_or(Path::Portable)
    })
}

/// The name of the path in use, for benchmarks and the page's status line;
/// in wasm with relaxed SIMD also how the engine computes its dot product.
pub fn path_name() -> String {
    describe(path())
}

fn describe(p: Path) -> String {
    #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
    if p == Path::WasmRelaxed {
        return format!("{} ({})", p.name(), wasm::relaxed::dot().name());
    }
    p.name().to_string()
}

/// Whether some int8 path runs here: everywhere (the portable one at worst).
pub fn available() -> bool {
    true
}

/// 64 bytes on a cache line of their own.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([i8; 64]);

/// What happens to each output value: y = act(x·Wᵀ + bias) + residual.
#[derive(Clone, Copy)]
pub struct Epilogue<'a> {
    /// [n]
    pub bias: Option<&'a [f32]>,
    pub act: Act,
    /// [m, n], added after the activation.
    pub residual: Option<&'a [f32]>,
}

impl Default for Epilogue<'_> {
    fn default() -> Self {
        Self { bias: None, act: Act::None, residual: None }
    }
}

impl Epilogue<'_> {
    /// The same in plain Rust over a finished [m, n] product.
    pub fn apply(&self, y: &mut [f32], n: usize) {
        if let Some(b) = self.bias {
            y.chunks_mut(n).for_each(|row| row.iter_mut().zip(b).for_each(|(v, b)| *v += b));
        }
        self.act.apply_slice(y);
        if let Some(r) = self.residual {
            y.iter_mut().zip(r).for_each(|(v, r)| *v += r);
        }
    }

    /// Over the columns `cols` of output row `t` (`y` is that row's part).
    fn apply_part(&self, y: &mut [f32], t: usize, n: usize, cols: std::ops::Range<usize>) {
        if let Some(b) = self.bias {
            y.iter_mut().zip(&b[cols.clone()]).for_each(|(v, b)| *v += b);
        }
        self.act.apply_slice(y);
        if let Some(r) = self.residual {
            y.iter_mut().zip(&r[t * n + cols.start..t * n + cols.end]).for_each(|(v, r)| *v += r);
        }
    }
}

/// A weight matrix [n, k] prepared for the kernel.
pub struct Int8Matrix {
    n: usize,
    k: usize,
    /// Blocks per row.
    nb: usize,
    /// Per (group, block, step): 16 rows × 4 signed weights.
    w: Vec<Line>,
    /// Per (group, block): the 16 rows' block scales.
    scales: Vec<f32>,
    /// Per (group, block): −128 · Σw of each row's block (the correction
    /// for unsigned activations: AVX-512 VNNI, and wasm relaxed SIMD where
    /// the engine's dot product reads them so).
    #[cfg_attr(not(any(target_arch = "x86_64", target_feature = "relaxed-simd")), allow(dead_code))]
    start: Vec<i32>,
}

impl Int8Matrix {
    /// From a Q4_0 or Q8_0 tensor [n, k]; None for other encodings.
    pub fn from_qtensor(t: &QTensor) -> candle_core::Result<Option<Self>> {
        let (n, k) = t.shape().dims2()?;
        let (block_bytes, dtype) = match t.dtype() {
            GgmlDType::Q4_0 => (18, GgmlDType::Q4_0),
            GgmlDType::Q8_0 => (34, GgmlDType::Q8_0),
            _ => return Ok(None),
        };
        let data = t.data()?;
        let nb = k / QK;
        let groups = n.div_ceil(LANES);
        let mut w = vec![Line([0; 64]); groups * nb * STEPS];
        let mut scales = vec![0f32; groups * nb * LANES];
        let mut start = vec![0i32; groups * nb * LANES];
        let mut vals = [0i8; QK];
        for r in 0..n {
            let (g, lane) = (r / LANES, r % LANES);
            for b in 0..nb {
                let raw = &data[(r * nb + b) * block_bytes..(r * nb + b + 1) * block_bytes];
                let d = half::f16::from_le_bytes([raw[0], raw[1]]).to_f32();
                match dtype {
                    GgmlDType::Q4_0 => {
                        for j in 0..QK / 2 {
                            vals[j] = (raw[2 + j] & 0x0f) as i8 - 8;
                            vals[j + QK / 2] = (raw[2 + j] >> 4) as i8 - 8;
                        }
                    }
                    _ => {
                        for j in 0..QK {
                            // −128 never occurs in ggml's Q8_0 (|q| ≤ 127); the
                            // sign trick of the AVX2/wasm paths relies on it.
                            vals[j] = (raw[2 + j] as i8).max(-127);
                        }
                    }
                }
                let gb = g * nb + b;
                for s in 0..STEPS {
                    w[gb * STEPS + s].0[lane * 4..lane * 4 + 4].copy_from_slice(&vals[s * 4..s * 4 + 4]);
                }
                scales[gb * LANES + lane] = d;
                start[gb * LANES + lane] = -128 * vals.iter().map(|&x| x as i32).sum::<i32>();
            }
        }
        Ok(Some(Self { n, k, nb, w, scales, start }))
    }

    pub fn in_features(&self) -> usize {
        self.k
    }

    pub fn out_features(&self) -> usize {
        self.n
    }

    /// y[m, n] = x[m, k] · Wᵀ (no bias).
    pub fn matmul(&self, x: &[f32], m: usize) -> Vec<f32> {
        self.matmul_with(x, m, &Epilogue::default())
    }

    /// y[m, n] = act(x[m, k] · Wᵀ + bias) + residual, on this process's path.
    pub fn matmul_with(&self, x: &[f32], m: usize, ep: &Epilogue) -> Vec<f32> {
        self.matmul_on(path(), x, m, ep)
    }

    /// The same on a given path (which this machine must support).
    pub fn matmul_on(&self, path: Path, x: &[f32], m: usize, ep: &Epilogue) -> Vec<f32> {
        let mut y = Vec::with_capacity(m * self.n);
        self.run(path, x, m, ep, y.as_mut_ptr());
        // SAFETY: `run` wrote every one of the m·n values.
        unsafe { y.set_len(m * self.n) };
        y
    }

    /// Into a caller's buffer of m·n values (no allocation for the output).
    pub fn matmul_into(&self, x: &[f32], m: usize, ep: &Epilogue, y: &mut [f32]) {
        assert_eq!(y.len(), m * self.n, "output is not [m, {}]", self.n);
        self.run(path(), x, m, ep, y.as_mut_ptr());
    }

    fn run(&self, path: Path, x: &[f32], m: usize, ep: &Epilogue, y: *mut f32) {
        assert!(path.supported(), "the {} kernel does not run here", path.name());
        assert_eq!(x.len(), m * self.k, "input is not [m, {}]", self.k);
        if let Some(b) = ep.bias {
            assert_eq!(b.len(), self.n, "bias is not [{}]", self.n);
        }
        if let Some(r) = ep.residual {
            assert_eq!(r.len(), m * self.n, "residual is not [m, {}]", self.n);
        }
        let started = profile::on().then(crate::kernels::Instant::now);
        let acts = Activations::quantize(path, x, m, self.k);
        if let Some(t) = started {
            profile::add(&profile::QUANTIZE_NS, t);
        }
        // A few row groups per item keep their weights in L1/L2 while the
        // item's tokens stream past them; enough items to keep all threads
        // busy. A single token (the decoder) splits over row groups only.
        const GROUPS: usize = 4;
        const TOKENS: usize = 48;
        let groups = self.n.div_ceil(LANES);
        let group_chunks = groups.div_ceil(GROUPS);
        let tok_chunks = m.div_ceil(TOKENS);
        let out = OutPtr(y);
        let item = |item: usize| {
            let out = out;
            let (tc, gc) = (item / group_chunks, item % group_chunks);
            let gs = gc * GROUPS..(gc * GROUPS + GROUPS).min(groups);
            let toks = tc * TOKENS..(tc * TOKENS + TOKENS).min(m);
            // SAFETY: the path is supported (asserted above); each item
            // writes only y[toks, rows of gs], which no other item touches.
            unsafe { self.block(path, &acts, gs, toks, out.0, ep) }
        };
        // A product this small takes less time than handing parts of it to
        // other threads (see `SERIAL_MACS`).
        let items = group_chunks * tok_chunks;
        if m * self.n * self.k < SERIAL_MACS {
            (0..items).for_each(item);
        } else {
            crate::kernels::par_for(items, item);
        }
        if let Some(t) = started {
            profile::add(&profile::RUN_NS, t);
            profile::CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// y[toks, rows of groups] with the epilogue applied.
    ///
    /// # Safety
    /// `path` is supported; `y` holds [m, n] values; no one else writes this part.
    unsafe fn block(&self, path: Path, a: &Activations, groups: std::ops::Range<usize>, toks: std::ops::Range<usize>, y: *mut f32, ep: &Epilogue) {
        let (g, t) = (groups.clone(), toks.clone());
        let started = profile::on().then(crate::kernels::Instant::now);
        match path {
            // AVX-512 fuses the epilogue into its register tiles.
            #[cfg(target_arch = "x86_64")]
            Path::Avx512Vnni => {
                x86::avx512::block(self, a, g, t, y, ep);
                if let Some(t) = started {
                    profile::add(&profile::KERNEL_NS, t);
                }
                return;
            }
            #[cfg(target_arch = "x86_64")]
            Path::Avx2 => x86::avx2::block(self, a, g, t, y),
            #[cfg(target_arch = "aarch64")]
            Path::NeonDot => neon::block_dot(self, a, g, t, y),
            #[cfg(target_arch = "aarch64")]
            Path::Neon => neon::block(self, a, g, t, y),
            #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
            Path::WasmRelaxed => wasm::relaxed::block(self, a, g, t, y),
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Path::WasmSimd128 => wasm::simd128::block(self, a, g, t, y),
            _ => self.block_portable(a, g, t, y),
        }
        let started = started.map(|t| {
            profile::add(&profile::KERNEL_NS, t);
            crate::kernels::Instant::now()
        });
        let cols = groups.start * LANES..(groups.end * LANES).min(self.n);
        for t in toks {
            let row = std::slice::from_raw_parts_mut(y.add(t * self.n + cols.start), cols.len());
            ep.apply_part(row, t, self.n, cols.clone());
        }
        if let Some(t) = started {
            profile::add(&profile::EPILOGUE_NS, t);
        }
    }

    /// The arithmetic in plain Rust: the reference the SIMD paths must equal
    /// bit for bit, and the path for targets without one.
    unsafe fn block_portable(&self, a: &Activations, groups: std::ops::Range<usize>, toks: std::ops::Range<usize>, y: *mut f32) {
        let (nb, k, n) = (self.nb, self.k, self.n);
        for g in groups {
            for t in toks.clone() {
                let mut acc = [0f32; LANES];
                for b in 0..nb {
                    let gb = g * nb + b;
                    let x = &a.q[t * k + b * QK..t * k + (b + 1) * QK];
                    let mut dot = [0i32; LANES];
                    for s in 0..STEPS {
                        let line = &self.w[gb * STEPS + s].0;
                        for (lane, d) in dot.iter_mut().enumerate() {
                            for j in 0..4 {
                                *d += signed(x[s * 4 + j]) as i32 * line[lane * 4 + j] as i32;
                            }
                        }
                    }
                    let da = a.scales[t * nb + b];
                    for (lane, acc) in acc.iter_mut().enumerate() {
                        *acc += dot[lane] as f32 * (self.scales[gb * LANES + lane] * da);
                    }
                }
                let r0 = g * LANES;
                for (lane, &v) in acc.iter().enumerate().take(n.saturating_sub(r0).min(LANES)) {
                    y.add(t * n + r0 + lane).write(v);
                }
            }
        }
    }
}

/// Products of fewer multiply-adds run on the calling thread. Natively one
/// token through a 512 × 512 matrix (0.26 M) stays there and one through
/// Whisper's 2048 × 512 MLP (1 M) goes to the pool. In the page a hand-over
/// wakes the pool's web workers and then the calling worker through
/// `Atomics.wait`/`notify`, which costs more than natively, so the page
/// keeps the decoder's single-token products up to 4 M on its thread.
const SERIAL_MACS: usize = if cfg!(target_arch = "wasm32") { 1 << 22 } else { 1 << 20 };

/// An activation byte as stored (q + 128) back to q.
#[inline(always)]
fn signed(q: u8) -> i8 {
    (q ^ 0x80) as i8
}

/// Activations quantized per 32-value block, stored as q + 128 (the form
/// `vpdpbusd` takes; the other paths flip the top bit back).
struct Activations {
    /// [m, k]
    q: Vec<u8>,
    /// [m, k / 32]
    scales: Vec<f32>,
}

impl Activations {
    fn quantize(path: Path, x: &[f32], m: usize, k: usize) -> Self {
        let (mut q, mut scales) = (Vec::<u8>::with_capacity(m * k), Vec::<f32>::with_capacity(m * (k / QK)));
        // Rows in parallel chunks.
        const ROWS: usize = 64;
        let (qp, sp) = (OutPtr(q.as_mut_ptr()), OutPtr(scales.as_mut_ptr()));
        let chunk = |c: usize| {
            let (qp, sp) = (qp, sp);
            let rows = c * ROWS..(c * ROWS + ROWS).min(m);
            let x = &x[rows.start * k..rows.end * k];
            // SAFETY: each chunk writes the bytes and scales of its own rows,
            // inside the capacities; the SIMD versions run only where supported.
            unsafe {
                let (q, s) = (qp.0.add(rows.start * k), sp.0.add(rows.start * k / QK));
                match path {
                    #[cfg(target_arch = "x86_64")]
                    Path::Avx512Vnni => x86::avx512::quantize(x, q, s),
                    #[cfg(target_arch = "x86_64")]
                    Path::Avx2 => x86::avx2::quantize(x, q, s),
                    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
                    Path::WasmRelaxed | Path::WasmSimd128 => wasm::quantize(x, q, s),
                    _ => Self::quantize_portable(x, q, s),
                }
            };
        };
        match m.div_ceil(ROWS) {
            1 => chunk(0),
            chunks => crate::kernels::par_for(chunks, chunk),
        }
        // SAFETY: all m·k bytes and m·k/32 scales were written.
        unsafe {
            q.set_len(m * k);
            scales.set_len(m * (k / QK));
        }
        Self { q, scales }
    }

    /// Per 32 values: the scale amax / 127 and round-half-even(x · 127 / amax) + 128.
    unsafe fn quantize_portable(x: &[f32], q: *mut u8, scales: *mut f32) {
        for (i, xs) in x.chunks_exact(QK).enumerate() {
            let amax = xs.iter().fold(0f32, |m, v| m.max(v.abs()));
            scales.add(i).write(amax / 127.0);
            let id = if amax > 0.0 { 127.0 / amax } else { 0.0 };
            for (j, &v) in xs.iter().enumerate() {
                q.add(i * QK + j).write(((v * id).round_ties_even() as i8 as u8) ^ 0x80);
            }
        }
    }
}

/// A buffer written from several threads, each to its own part.
struct OutPtr<T>(*mut T);
impl<T> Clone for OutPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for OutPtr<T> {}
unsafe impl<T> Send for OutPtr<T> {}
unsafe impl<T> Sync for OutPtr<T> {}

/// Where the int8 layers' time goes, for the benchmarks (off unless a
/// benchmark turns it on: two clock reads per work item otherwise saved).
pub mod profile {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

    static ON: AtomicBool = AtomicBool::new(false);
    pub(super) static CALLS: AtomicU64 = AtomicU64::new(0);
    pub(super) static QUANTIZE_NS: AtomicU64 = AtomicU64::new(0);
    pub(super) static RUN_NS: AtomicU64 = AtomicU64::new(0);
    pub(super) static KERNEL_NS: AtomicU64 = AtomicU64::new(0);
    pub(super) static EPILOGUE_NS: AtomicU64 = AtomicU64::new(0);

    /// The int8 layers' time since [`start`], in milliseconds.
    #[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
    pub struct KernelTimes {
        /// Matrix products run.
        pub calls: u64,
        /// Wall time inside the products (quantization to the last write).
        pub run_ms: f64,
        /// Wall time quantizing the activations.
        pub quantize_ms: f64,
        /// Summed over the threads: the integer tiles (with AVX-512 VNNI's
        /// fused epilogue).
        pub kernel_thread_ms: f64,
        /// Summed over the threads: bias, activation and residual.
        pub epilogue_thread_ms: f64,
    }

    pub(super) fn on() -> bool {
        ON.load(Relaxed)
    }

    pub(super) fn add(counter: &AtomicU64, since: crate::kernels::Instant) {
        counter.fetch_add(since.elapsed().as_nanos() as u64, Relaxed);
    }

    /// Starts counting from zero (the whole process: one benchmark at a time).
    pub fn start() {
        for c in [&CALLS, &QUANTIZE_NS, &RUN_NS, &KERNEL_NS, &EPILOGUE_NS] {
            c.store(0, Relaxed);
        }
        ON.store(true, Relaxed);
    }

    /// Stops counting; what was counted since [`start`].
    pub fn stop() -> KernelTimes {
        ON.store(false, Relaxed);
        let ms = |c: &AtomicU64| c.load(Relaxed) as f64 / 1e6;
        KernelTimes {
            calls: CALLS.load(Relaxed),
            run_ms: ms(&RUN_NS),
            quantize_ms: ms(&QUANTIZE_NS),
            kernel_thread_ms: ms(&KERNEL_NS),
            epilogue_thread_ms: ms(&EPILOGUE_NS),
        }
    }
}

#[doc(hidden)]
pub mod reference;
#[cfg(test)]
mod tests;

/// `f` on every path this machine (or browser) runs, by the path's
/// description; with relaxed SIMD also in the 7-bit form every engine
/// computes, where the engine's own exact form differs.
fn on_every_path<T>(mut f: impl FnMut(Path) -> Result<T, String>) -> Result<Vec<(String, T)>, String> {
    let mut out = Vec::new();
    for p in Path::ALL.into_iter().filter(|p| p.supported()) {
        out.push((describe(p), f(p)?));
        #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
        if p == Path::WasmRelaxed && wasm::relaxed::dot() != wasm::relaxed::Dot::SevenBit {
            out.push((format!("{} ({})", p.name(), wasm::relaxed::Dot::SevenBit.name()), wasm::relaxed::with_seven_bit(|| f(p))?));
        }
    }
    Ok(out)
}

/// Every path this machine (or browser) runs, checked against the
/// independent reference: the path names, or the first difference. The
/// page's browser tests run it in both of the page's modules.
pub fn self_test() -> Result<Vec<String>, String> {
    Ok(on_every_path(reference::check_path)?.into_iter().map(|(name, ())| name).collect())
}

/// Milliseconds per [m, k] × [n, k]ᵀ product (random Q8_0 weights, the best
/// of `runs`) on every path this machine or browser runs: the kernels side
/// by side in one run (the page's `benchInt8`, `creative-filter bench kernels`).
pub fn bench_paths(m: usize, n: usize, k: usize, runs: usize) -> Result<Vec<(String, f64)>, String> {
    let (q, x) = reference::case(GgmlDType::Q8_0, n, k, m, 7);
    let mat = Int8Matrix::from_qtensor(&q).map_err(|e| e.to_string())?.ok_or("not a Q8_0 matrix")?;
    on_every_path(|p| {
        let ep = Epilogue::default();
        Ok((0..runs.max(1))
            .map(|_| {
                let t = crate::kernels::Instant::now();
                std::hint::black_box(mat.matmul_on(p, &x, m, &ep));
                t.elapsed().as_secs_f64() * 1e3
            })
            .fold(f64::INFINITY, f64::min))
    })
}
