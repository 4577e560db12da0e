//! The product's `kernels` module as far as the int8 kernels need it.
pub mod math {
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Act { None, GeluErf, GeluTanh, Relu }
    impl Act { pub fn apply_slice(self, _: &mut [f32]) {} }
    #[cfg(target_arch = "x86_64")]
    pub mod x86 {
        use std::arch::x86_64::*;
        #[target_feature(enable = "avx512f")]
        pub unsafe fn act_ps(_: super::Act, x: __m512) -> __m512 { x }
    }
}
pub(crate) fn par_for(n: usize, f: impl Fn(usize) + Send + Sync) { (0..n).for_each(f) }
pub(crate) use std::time::Instant;
#[path = "../../../src/kernels/int8/mod.rs"]
pub mod int8;
