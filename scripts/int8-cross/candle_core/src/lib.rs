//! Stand-ins for the few candle items the int8 kernels and their reference
//! use; `QTensor::quantize` is ggml's reference Q8_0/Q4_0 quantizer.
pub type Result<T> = std::result::Result<T, String>;
pub struct Shape(usize, usize);
impl Shape { pub fn dims2(&self) -> Result<(usize, usize)> { Ok((self.0, self.1)) } }
pub enum Device { Cpu }
pub struct Tensor { v: Vec<f32>, n: usize, k: usize }
impl Tensor { pub fn from_vec(v: Vec<f32>, s: (usize, usize), _: &Device) -> Result<Self> { Ok(Tensor { v, n: s.0, k: s.1 }) } }
pub mod quantized {
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub enum GgmlDType { Q4_0, Q8_0, F32 }
    pub struct QTensor { shape: super::Shape, dtype: GgmlDType, data: Vec<u8> }
    impl QTensor {
        pub fn shape(&self) -> &super::Shape { &self.shape }
        pub fn dtype(&self) -> GgmlDType { self.dtype }
        pub fn data(&self) -> super::Result<std::borrow::Cow<'_, [u8]>> { Ok(std::borrow::Cow::Borrowed(&self.data)) }
        /// ggml's reference quantizers.
        pub fn quantize(t: &super::Tensor, dtype: GgmlDType) -> super::Result<Self> {
            let mut data = Vec::new();
            for x in t.v.chunks(32) {
                match dtype {
                    GgmlDType::Q8_0 => {
                        let amax = x.iter().fold(0f32, |a, v| a.max(v.abs()));
                        let d = amax / 127.0;
                        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
                        data.extend(half::f16::from_f32(d).to_le_bytes());
                        data.extend(x.iter().map(|v| (v * id).round() as i8 as u8));
                    }
                    _ => {
                        let (mut amax, mut max) = (0f32, 0f32);
                        for &v in x { if v.abs() > amax { amax = v.abs(); max = v; } }
                        let d = max / -8.0;
                        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
                        data.extend(half::f16::from_f32(d).to_le_bytes());
                        for j in 0..16 {
                            let a = ((x[j] * id + 8.5) as u8).min(15);
                            let b = ((x[j + 16] * id + 8.5) as u8).min(15);
                            data.push(a | (b << 4));
                        }
                    }
                }
            }
            Ok(QTensor { shape: super::Shape(t.n, t.k), dtype, data })
        }
    }
}
